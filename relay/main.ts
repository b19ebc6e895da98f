// The relay alone as a program: `node --import tsx relay/main.ts --listen HOST:PORT [--nats URL]`.
// Same arguments as `vigil relay`, but it loads nothing of the hub (no SQLite, no ffmpeg), so a
// relay machine or container needs only Node, ws, nats and tsx.

import { runRelayCli } from './cli.ts';

process.exitCode = await runRelayCli(process.argv.slice(2));
