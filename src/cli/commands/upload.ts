import { type Command, Option } from '@commander-js/extra-typings';
import { enumerateArtifactDir, parseArtifactPair } from '../../hashing/artifacts.js';
import { uploadArtifacts } from '../../transport/upload.js';
import { type Io, jsonOut } from '../io.js';
import { examples, integerOption, taskIdArgument, usage } from '../options.js';
import { queueFromOptions, withQueueOptions } from '../queue-options.js';

/** `cot upload`: uploadArtifacts of a folder and NAME=PATH pairs. */
export function registerUpload(program: Command, io: Io): void {
  withQueueOptions(
    program
      .command('upload')
      .description(
        'upload artifacts of a run (text gzipped on the wire, chain-of-trust files last, expiring with the task)',
      )
      .addOption(
        new Option('--task-id <id>', 'task id')
          .argParser((v: string) => taskIdArgument(v, '--task-id'))
          .makeOptionMandatory(),
      )
      .addOption(integerOption('--run-id <n>', 'run id').makeOptionMandatory())
      .option('--artifacts <dir>', 'upload every file of this folder, named by its relative path')
      .argument('[pairs...]', 'NAME=PATH artifacts')
      .addOption(
        new Option('--storage-type <type>', 'artifact storage type').choices(['s3', 'object']).default('s3'),
      )
      .option('--expires <time>', "expiry (ISO 8601; default: the task's expires)")
      .option('--json', 'print a JSON result')
      .addHelpText(
        'after',
        examples(
          'cot upload --task-id LnshJjNXTfeBlPNrAzyy9w --run-id 0 --artifacts ./artifacts --root-url https://tc.example.com',
          'cot upload --task-id LnshJjNXTfeBlPNrAzyy9w --run-id 0 public/build/x.zip=./x.zip --queue ./store',
        ),
      ),
  )
    .exitOverride()
    .action(async (pairs, o) => {
      const queue = await queueFromOptions(o, process.env);
      const sources = [
        ...(o.artifacts ? await enumerateArtifactDir(o.artifacts) : []),
        ...pairs.map(parseArtifactPair),
      ];
      if (sources.length === 0) throw usage('give --artifacts DIR or NAME=PATH pairs');
      const done = await uploadArtifacts(queue, sources, {
        taskId: o.taskId,
        runId: o.runId,
        storageType: o.storageType,
        ...(o.expires ? { expires: o.expires } : {}),
      });
      if (o.json) jsonOut(io, { ok: true, queue: queue.description, uploaded: done });
      else
        for (const f of done)
          io.stdout(
            `uploaded ${f.name} (${f.contentType}${f.gzip ? ', gzip' : ''}) to ${queue.description}\n`,
          );
    });
}
