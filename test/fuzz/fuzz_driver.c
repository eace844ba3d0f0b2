/*-------------------------------------------------------------------------
 *
 * fuzz_driver.c
 *	  A main() for the fuzz harnesses without libFuzzer: feeds every file of
 *	  the directories (or files) named on the command line, and every prefix
 *	  of each, to LLVMFuzzerTestOneInput().  `make smoke` builds it with the
 *	  ordinary compiler so that the harnesses and the corpus stay usable
 *	  where clang is missing.
 *
 *-------------------------------------------------------------------------
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DRIVER_MAX_INPUT	(64 * 1024)

static int
run_file(const char *path)
{
	static uint8_t buf[DRIVER_MAX_INPUT];
	FILE	   *f;
	size_t		n;
	size_t		i;

	f = fopen(path, "rb");
	if (f == NULL)
	{
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);

	for (i = 0; i <= n; i++)
	{
		/* a fresh heap copy of each prefix, so that ASan sees overreads */
		uint8_t    *copy = malloc(i > 0 ? i : 1);

		if (copy == NULL)
			return -1;
		if (i > 0)
			memcpy(copy, buf, i);
		LLVMFuzzerTestOneInput(copy, i);
		free(copy);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	int			files = 0;
	int			i;

	for (i = 1; i < argc; i++)
	{
		struct stat st;
		DIR		   *dir;
		struct dirent *de;

		if (stat(argv[i], &st) != 0)
		{
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode))
		{
			if (run_file(argv[i]) != 0)
				return 1;
			files++;
			continue;
		}
		dir = opendir(argv[i]);
		if (dir == NULL)
		{
			perror(argv[i]);
			return 1;
		}
		while ((de = readdir(dir)) != NULL)
		{
			char		path[4096];

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
			if (run_file(path) != 0)
			{
				closedir(dir);
				return 1;
			}
			files++;
		}
		closedir(dir);
	}
	printf("%s: %d inputs and their prefixes ran clean\n", argv[0], files);
	return files > 0 ? 0 : 1;
}
