#!/usr/bin/env node
/**
 * The `mediastore` bin. Without a subcommand: the standalone server
 * (`npm start`): serves the HTTP API on HOST:PORT and drains on SIGTERM,
 * SIGINT, SIGHUP and SIGUSR2, configured by environment (docs/http-api.md).
 * `migrate`, `export` and `--help`: scripts/migrate-cli.ts (docs/postgres.md).
 */
const SUBCOMMANDS = new Set(['migrate', 'export', 'help', '--help', '-h']);
const args = process.argv.slice(2);

if (args[0] !== undefined && SUBCOMMANDS.has(args[0])) {
  const { runMigrationCommand } = await import('../scripts/migrate-cli.js');
  process.exitCode = await runMigrationCommand(args);
} else {
  const { main } = await import('../server/main.js');
  await main();
}
