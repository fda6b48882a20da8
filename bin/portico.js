#!/usr/bin/env node
// The `portico` command: runs src/main.ts on a Node that strips TypeScript types (22.18+, or 23.6+), and otherwise
// re-runs itself on the project's pinned Node (the `node` devDependency), passing arguments, stdio, signals and
// the exit code through.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(packageRoot, 'src', 'main.ts');

if (process.features.typescript) {
  await import(pathToFileURL(main).href);
} else {
  const pinned = [
    join(packageRoot, 'node_modules', 'node', 'bin', 'node'),
    join(packageRoot, 'node_modules', '.bin', 'node'),
  ].find((candidate) => existsSync(candidate));
  if (pinned === undefined) {
    process.stderr.write(
      `portico: Node ${process.versions.node} cannot run TypeScript and the pinned Node is missing; run 'npm install' in ${packageRoot}\n`,
    );
    process.exit(1);
  }
  const child = spawn(pinned, [main, ...process.argv.slice(2)], { stdio: 'inherit' });
  // The child shuts down gracefully on these; it tells a forwarded copy of a terminal's Ctrl-C from a second signal.
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, forward);
  child.on('error', (error) => {
    process.stderr.write(`portico: could not start ${pinned}: ${error.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    // A child ended by a signal ends this process the same way, so callers see what really happened.
    if (signal !== null) {
      for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeListener(name, forward);
      process.kill(process.pid, signal);
      return;
    }
    process.exit(code ?? 1);
  });
}
