import { dropOutputOnClosedPipe } from './closed-pipe.js';
import { COMMANDS, usage } from './commands.js';

dropOutputOnClosedPipe(process.stdout);
dropOutputOnClosedPipe(process.stderr);

/** `celeriac <command> [...]`: loads only the module of the command asked for, to keep start-up short. */
async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`celeriac: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const module = await command.load();
  return module.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`celeriac: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
