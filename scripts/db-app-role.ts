// `npm run db:app-role`: creates the app's login role, or sets its password, and makes it a member
// of billing_app (the privileges the migrations grant). Run it after the migrations, and again to
// rotate the password (docs/runbook.md, "Database roles"). Reads two URLs from the environment:
//   MIGRATION_DATABASE_URL  a role that may create roles (the schema owner, or an administrator)
//   DATABASE_URL            the app's URL: its user is the login role, its password the password
// Idempotent; prints the role's name, never a password. Exit 78 on a configuration mistake.
import { AppRoleError, APP_GROUP_ROLE, ensureAppLoginRole } from '../src/platform/database-roles.js';
import { postgresAddress, reasonOf } from '../src/platform/dependencies.js';

const adminUrl = process.env.MIGRATION_DATABASE_URL;
const appUrl = process.env.DATABASE_URL;
const missing = [!adminUrl && 'MIGRATION_DATABASE_URL', !appUrl && 'DATABASE_URL'].filter(Boolean);
if (missing.length > 0) {
  process.stderr.write(`db:app-role: set ${missing.join(' and ')} (docs/runbook.md, "Database roles")\n`);
  process.exit(78);
}
try {
  const { role, created } = await ensureAppLoginRole({ adminUrl: adminUrl!, appUrl: appUrl! });
  process.stdout.write(
    `db:app-role: ${role} ${created ? 'created' : 'password set'}, member of ${APP_GROUP_ROLE} (${postgresAddress(appUrl!)})\n`,
  );
} catch (error) {
  if (error instanceof AppRoleError) {
    process.stderr.write(`db:app-role: ${error.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`db:app-role: ${reasonOf(error)} (${postgresAddress(adminUrl!)})\n`);
  process.exit(1);
}
