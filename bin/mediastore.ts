#!/usr/bin/env node
/**
 * The standalone server (`npm start`, or `mediastore` from the package's
 * bin): serves the HTTP API on HOST:PORT and drains on SIGTERM, SIGINT,
 * SIGHUP and SIGUSR2. Configuration is by environment (docs/http-api.md).
 */
import { main } from '../server/main.js';

await main();
