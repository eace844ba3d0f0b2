/*-------------------------------------------------------------------------
 *
 * tree.c
 *	  Walks a job's directory tree without recursion: rm_rf() deletes it,
 *	  tree_usage() measures it.  A workload builds that tree, so its shape
 *	  is hostile: a chain 10,000 directories deep, names at the length
 *	  limit, directories without permissions, symbolic links anywhere.
 *
 * One directory is open at a time.  Going down records, on the heap, the
 * parent's identity (device, inode), its read position and the child's
 * name; going up reopens "..", checks that it is the recorded parent (a
 * running workload may move directories while the agent measures) and
 * seeks back to the position.  Memory grows with the depth (a name per
 * level), never the C stack, and no more than two descriptors are open.
 * Symbolic links are never followed and no other file system is entered.
 *
 *-------------------------------------------------------------------------
 */
#include "agent.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Level
{
	dev_t		dev;			/* the parent directory */
	ino_t		ino;
	long		pos;			/* where to go on reading it */
	char	   *name;			/* the child we went down into */
} Level;

typedef struct Walk
{
	Level	   *levels;
	size_t		depth;
	size_t		cap;
} Walk;

static void
walk_push(Walk *w, const struct stat *parent, long pos, const char *name)
{
	if (w->depth == w->cap)
	{
		w->cap = w->cap ? w->cap * 2 : 64;
		w->levels = realloc(w->levels, w->cap * sizeof(Level));
		if (w->levels == NULL)
		{
			log_msg(LOG_LEVEL_FATAL, "oom", "out of memory");
			abort();
		}
	}
	w->levels[w->depth].dev = parent->st_dev;
	w->levels[w->depth].ino = parent->st_ino;
	w->levels[w->depth].pos = pos;
	w->levels[w->depth].name = xstrdup(name);
	w->depth++;
}

static void
walk_free(Walk *w)
{
	for (size_t i = 0; i < w->depth; i++)
		free(w->levels[i].name);
	free(w->levels);
	memset(w, 0, sizeof(*w));
}

static DIR *
open_dir_at(int dirfd, const char *name, struct stat *st)
{
	int			fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR		   *d;

	if (fd < 0)
		return NULL;
	if (fstat(fd, st) != 0 || (d = fdopendir(fd)) == NULL)
	{
		close(fd);
		return NULL;
	}
	return d;
}

/*
 * The walk both operations share.  remove: delete every entry and each
 * directory once empty; else add up the allocated bytes and count entries,
 * stopping once there are more than max_entries (0: no bound).  Returns 0,
 * or -1 with errno (ESTALE: the tree moved under the walk).
 */
static int
walk_tree(const char *path, bool remove, long max_entries, TreeUsage *u)
{
	Walk		w = {0};
	struct stat root,
				cur,
				st;
	DIR		   *d;
	int			rc = 0,
				saved = 0;

	if (u)
		memset(u, 0, sizeof(*u));
	if (lstat(path, &root) != 0)
		return errno == ENOENT && remove ? 0 : -1;
	if (!S_ISDIR(root.st_mode))
	{
		if (remove)
			return unlink(path);
		if (u)
		{
			u->bytes = (long long) root.st_blocks * 512;
			u->entries = 1;
		}
		return 0;
	}
	/* the workload may have left directories without permissions */
	if (remove && (root.st_mode & 0700) != 0700)
		chmod(path, 0700);
	d = open_dir_at(AT_FDCWD, path, &cur);
	if (d == NULL)
		return -1;
	if (cur.st_dev != root.st_dev || cur.st_ino != root.st_ino)
	{
		closedir(d);
		errno = ESTALE;
		return -1;
	}
	if (u)
		u->bytes += (long long) cur.st_blocks * 512;
	for (;;)
	{
		struct dirent *e;

		errno = 0;
		e = readdir(d);
		if (e == NULL)
		{
			int			fd;
			Level	   *up;

			if (errno != 0)
			{
				saved = errno;
				rc = -1;
			}
			if (w.depth == 0)
				break;
			/* this directory is done: back to its parent */
			up = &w.levels[w.depth - 1];
			fd = openat(dirfd(d), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			closedir(d);
			if (fd < 0 || fstat(fd, &cur) != 0 || cur.st_dev != up->dev || cur.st_ino != up->ino ||
				(d = fdopendir(fd)) == NULL)
			{
				if (fd >= 0)
					close(fd);
				walk_free(&w);
				errno = ESTALE;
				return -1;
			}
			seekdir(d, up->pos);
			if (remove && unlinkat(dirfd(d), up->name, AT_REMOVEDIR) != 0)
			{
				saved = errno;
				rc = -1;
			}
			free(up->name);
			w.depth--;
			continue;
		}
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		{
			if (errno == ENOENT)
				continue;		/* deleted meanwhile */
			saved = errno;
			rc = -1;
			continue;
		}
		if (u)
		{
			u->entries++;
			u->bytes += (long long) st.st_blocks * 512;
			if (max_entries > 0 && u->entries > max_entries)
				break;
		}
		if (S_ISDIR(st.st_mode) && st.st_dev == root.st_dev)
		{
			long		pos = telldir(d);
			struct stat parent = cur;
			DIR		   *child;

			if (remove && (st.st_mode & 0700) != 0700)
				fchmodat(dirfd(d), e->d_name, 0700, 0);
			walk_push(&w, &parent, pos, e->d_name);
			child = open_dir_at(dirfd(d), e->d_name, &cur);
			if (child == NULL || cur.st_dev != st.st_dev || cur.st_ino != st.st_ino)
			{
				/* unreadable, or replaced meanwhile: skip it */
				saved = child ? ESTALE : errno;
				rc = -1;
				if (child)
					closedir(child);
				cur = parent;
				free(w.levels[--w.depth].name);
				continue;
			}
			closedir(d);
			d = child;
			continue;
		}
		if (remove)
		{
			/* never into another file system: a mount point is left alone */
			if (S_ISDIR(st.st_mode) || unlinkat(dirfd(d), e->d_name, 0) != 0)
			{
				saved = S_ISDIR(st.st_mode) ? EXDEV : errno;
				rc = -1;
			}
		}
	}
	closedir(d);
	walk_free(&w);
	if (remove && rmdir(path) != 0)
	{
		saved = errno;
		rc = -1;
	}
	if (rc != 0)
		errno = saved;
	return rc;
}

/* remove a tree without following symbolic links; 0, or -1 with errno */
int
rm_rf(const char *path)
{
	int			rc = walk_tree(path, true, 0, NULL);

	/* a tree that moved meanwhile (its workload still ran): once more */
	if (rc != 0 && errno == ESTALE)
		rc = walk_tree(path, true, 0, NULL);
	return rc;
}

/*
 * The bytes allocated under path (its blocks, directories included) and
 * the number of entries; the count stops just past max_entries (0: no
 * bound).  0, or -1 with errno: EACCES when a directory cannot be read,
 * ESTALE when the tree moved under the walk.
 */
int
tree_usage(const char *path, long max_entries, TreeUsage *u)
{
	return walk_tree(path, false, max_entries, u);
}
