-- Roles and schemas of Surge's services. Run by a superuser in the database
-- `surge`; safe to run again.
--
-- Each service gets a LOGIN role <service>_svc that owns one schema named
-- after the service and can use nothing else: its search_path is its schema,
-- and nobody but the owner may use a service schema or the public schema.
-- The passwords equal the role names: a demo setting, change them (ALTER ROLE
-- ... PASSWORD) anywhere else.
DO $bootstrap$
DECLARE
	svc  text;
	role text;
BEGIN
	FOREACH svc IN ARRAY ARRAY['order', 'inventory', 'points', 'coupon'] LOOP
		role := svc || '_svc';
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) THEN
			EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', role, role);
		END IF;
		EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', svc, role);
		EXECUTE format('ALTER SCHEMA %I OWNER TO %I', svc, role);
		EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', svc);
		EXECUTE format('ALTER ROLE %I SET search_path = %I', role, svc);
	END LOOP;
END
$bootstrap$;

REVOKE ALL ON SCHEMA public FROM PUBLIC;
