import { type Command, Option } from '@commander-js/extra-typings';
import { startQueueServer } from '../../transport/server.js';
import { type Io, jsonOut } from '../io.js';
import { examples, numberOption, usage } from '../options.js';

/** `cot queue serve`: startQueueServer over a directory store, until SIGINT or SIGTERM. */
export function registerQueue(program: Command, io: Io): void {
  const queueCmd = program
    .command('queue')
    .description('the queue: a local server over a directory store')
    .addHelpText('after', examples('cot queue serve --dir ./store --port 8080'))
    .exitOverride();
  queueCmd
    .command('serve')
    .description(
      "serve a directory store over the queue's REST routes (rootUrl http://HOST:PORT), loopback by default",
    )
    .requiredOption('--dir <dir>', 'the directory store')
    .addOption(numberOption('--port <n>', 'port (0 = any free port)', 0))
    .option('--host <host>', 'address to bind', '127.0.0.1')
    .addOption(
      new Option('--client-id <id>', 'client id allowed to write, with --access-token').env(
        'COT_QUEUE_CLIENT_ID',
      ),
    )
    .addOption(new Option('--access-token <token>', 'its access token').env('COT_QUEUE_ACCESS_TOKEN'))
    .option('--json', 'print the address served as JSON once listening')
    .addHelpText(
      'after',
      examples(
        'cot queue serve --dir ./store --port 8080',
        'cot queue serve --dir ./store --client-id uploader --access-token "$TOKEN"',
      ),
    )
    .exitOverride()
    .action(async (o) => {
      const { clientId, accessToken } = o;
      if ((clientId === undefined) !== (accessToken === undefined))
        throw usage('give both --client-id and --access-token, or neither');
      const server = await startQueueServer({
        dir: o.dir,
        port: o.port,
        host: o.host,
        ...(clientId !== undefined && accessToken !== undefined
          ? { credentials: { clientId, accessToken } }
          : {}),
      });
      if (o.json)
        jsonOut(io, { ok: true, dir: o.dir, rootUrl: server.rootUrl, writesAllowedFor: clientId ?? null });
      else
        io.stdout(
          `serving ${o.dir} at ${server.rootUrl} (writes ${clientId ? `allowed for ${clientId}` : 'refused: no credentials'})\n`,
        );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
    });
}
