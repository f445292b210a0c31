import type { Command } from '@commander-js/extra-typings';
import { artifactsFromPaths } from '../../cot/inputs.js';
import { hashArtifacts, toArtifactDigests } from '../../hashing/artifacts.js';
import { canonicalize } from '../../json/canonical.js';
import { type Io, jsonOut } from '../io.js';
import { examples, list, listOption, numberOption, parseAlgorithms } from '../options.js';

/** `cot hash`: the artifacts map of a folder or of files (artifactsFromPaths, hashArtifacts). */
export function registerHash(program: Command, io: Io): void {
  program
    .command('hash')
    .description('print the artifacts map the generator would write, for a folder or for files')
    .argument('<paths...>', 'one folder, or files (named by their relative path, or NAME=PATH)')
    .addOption(listOption('--hash-algorithm <alg>', 'sha256 and/or sha512, or comma-separated', 'sha256'))
    .addOption(numberOption('--concurrency <n>', 'files hashed at once', 8))
    .option('--json', 'print a JSON result: the artifacts map and the files skipped')
    .addHelpText(
      'after',
      examples(
        'cot hash ./artifacts',
        'cot hash public/build/target.tar.gz=/tmp/t.tgz --hash-algorithm sha256,sha512',
      ),
    )
    .exitOverride()
    .action(async (paths, o) => {
      const algorithms = parseAlgorithms(list(o.hashAlgorithm));
      // a folder given with other paths: OPTIONS_INVALID, reported as USAGE by main()
      const { sources, skipped } = await artifactsFromPaths(paths);
      if (skipped.length > 0 && !o.json)
        io.stderr(`cot: skipped the chain-of-trust files ${skipped.join(', ')}\n`);
      const hashed = await hashArtifacts(sources, { algorithms, concurrency: Math.max(1, o.concurrency) });
      if (o.json) jsonOut(io, { ok: true, algorithms, artifacts: toArtifactDigests(hashed), skipped });
      else io.stdout(`${canonicalize(toArtifactDigests(hashed))}\n`);
    });
}
