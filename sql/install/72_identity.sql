-- ---------------------------------------------------------------------------
-- 0.3: who may speak for whom.  request.jwt.claims are trusted only from the
-- logins of lagbid.authenticators (PostgREST's); any other login acts as the
-- provider or owner it is bound to here (src/api.c resolves it on every API
-- call with one probe of the primary key).  The platform binds logins; an
-- unbound login that proves a node's key at registration binds itself
-- (easy signup, lagbid.api_signup).  docs/0.3/identity.md.
-- ---------------------------------------------------------------------------

CREATE TABLE lagbid.login_binding (
    login       regrole PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('provider', 'owner')),
    subject     text NOT NULL,
    how         text NOT NULL CHECK (how IN ('platform', 'signup')),
    bound_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_binding_subject ON lagbid.login_binding (kind, subject);
COMMENT ON TABLE lagbid.login_binding IS
    'logins bound to one provider (subject = node id) or owner (subject = owner name): such a login''s API calls speak for it and nothing else';
COMMENT ON COLUMN lagbid.login_binding.how IS
    'platform: bound by lagbid.bind_login/bind_owner_login; signup: bound by a signed registration of an unbound login';

ALTER TABLE lagbid.login_binding ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_reads ON lagbid.login_binding FOR SELECT TO lagbid_platform USING (true);
REVOKE ALL ON lagbid.login_binding FROM PUBLIC;
GRANT SELECT ON lagbid.login_binding TO lagbid_platform;
-- bindings are data: pg_dump keeps them (90_dump.sql does the same for the market's tables)
SELECT pg_catalog.pg_extension_config_dump('lagbid.login_binding', '');

-- bind one login (shared by bind_login and bind_owner_login)
CREATE FUNCTION lagbid.bind(kind text, subject text, login regrole) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    b lagbid.login_binding;
BEGIN
    IF login IS NULL OR subject IS NULL THEN
        PERFORM lagbid.raise('LB001', format('%s and login must not be NULL',
                                             CASE kind WHEN 'provider' THEN 'node_id' ELSE 'owner' END));
    END IF;
    IF kind = 'provider' AND NOT lagbid.node_id_is_valid(subject) THEN
        PERFORM lagbid.raise('LB002', 'node_id is not a valid libp2p peer id', NULL,
                             'A node id is a libp2p peer id such as 12D3KooW... or Qm....');
    END IF;
    IF kind = 'owner' AND (octet_length(subject) NOT BETWEEN 1 AND 128 OR subject ~ '[[:cntrl:]]') THEN
        PERFORM lagbid.raise('LB001', 'owner must be 1 to 128 bytes without control characters');
    END IF;
    IF lagbid.is_authenticator(login) THEN
        PERFORM lagbid.raise('LB001', format('login %s is one of lagbid.authenticators and cannot be bound', login),
                             'Its requests speak for whoever their claims name.',
                             'Bind the provider''s or owner''s own login.');
    END IF;
    SELECT * INTO b FROM lagbid.login_binding lb WHERE lb.login = bind.login FOR UPDATE;
    IF FOUND AND b.kind = bind.kind AND b.subject = bind.subject THEN
        RETURN;
    ELSIF FOUND THEN
        PERFORM lagbid.raise('LB107', format('login %s is already bound to %s %s', login, b.kind, b.subject),
                             NULL, 'Unbind it first with lagbid.unbind_login().');
    END IF;
    INSERT INTO lagbid.login_binding (login, kind, subject, how)
    VALUES (bind.login, bind.kind, bind.subject, 'platform')
    ON CONFLICT ON CONSTRAINT login_binding_pkey DO NOTHING;
    IF NOT FOUND THEN
        PERFORM lagbid.raise('LB107', format('login %s was bound concurrently', login));
    END IF;
END $$;
COMMENT ON FUNCTION lagbid.bind(text, text, regrole) IS
    'binds login to the provider or owner subject (internal: bind_login, bind_owner_login)';

CREATE FUNCTION lagbid.bind_login(node_id text, login regrole) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN lagbid.bind('provider', node_id, login);
COMMENT ON FUNCTION lagbid.bind_login(text, regrole) IS
    'binds a login (e.g. a provider daemon''s) to the provider of node_id: its API calls then speak for that node only; LB107 when the login is bound to another identity';

CREATE FUNCTION lagbid.bind_owner_login(owner text, login regrole) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    RETURN lagbid.bind('owner', owner, login);
COMMENT ON FUNCTION lagbid.bind_owner_login(text, regrole) IS
    'binds a login to an owner: its API calls then speak for that owner only; LB107 when the login is bound to another identity';

CREATE FUNCTION lagbid.unbind_login(login regrole) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM lagbid.login_binding lb WHERE lb.login = unbind_login.login;
    RETURN FOUND;
END $$;
COMMENT ON FUNCTION lagbid.unbind_login(regrole) IS
    'removes the binding of a login (do it before dropping the login); returns whether there was one';

REVOKE ALL ON FUNCTION lagbid.bind(text, text, regrole), lagbid.bind_login(text, regrole),
    lagbid.bind_owner_login(text, regrole), lagbid.unbind_login(regrole) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION lagbid.bind_login(text, regrole), lagbid.bind_owner_login(text, regrole),
    lagbid.unbind_login(regrole) TO lagbid_platform;
