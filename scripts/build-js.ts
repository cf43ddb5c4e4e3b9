// `node scripts/build-js.ts <operator|recorder-image> [outDir]`: a workspace (and the common one) as
// plain JavaScript, for its image.
// Why: running TypeScript through Node's type stripping keeps the stripper (a WebAssembly build of swc)
// in memory for the life of the process: ~17 MB of the operator's ~150 MB budget with 1,000 Recordings
// (`npm run bench operator`) and of the recorder's Node process (`npm run bench recorder`), and the
// recorder starts faster without transforming its modules. Both benchmarks run this build; tests and
// `npm start` run the sources.
// Types are stripped with Node's own stripTypeScriptTypes (the same transform as at run time: no
// emitted helpers, line numbers kept), and `.ts` import specifiers become `.js`; imports of the common
// workspace become relative paths into the same output tree.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const workspaces = ['operator', 'recorder-image'];
const workspace = process.argv[2] ?? '';
if (!workspaces.includes(workspace)) {
  console.error(`usage: node scripts/build-js.ts <${workspaces.join('|')}> [outDir]`);
  process.exit(2);
}
const outDir = resolve(process.argv[3] ?? join(root, 'dist'));
const sources = [`${workspace}/src`, 'common/src'];
const commonPackage = '@recording-operator/common/';

function* typeScriptFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* typeScriptFiles(path);
    else if (entry.endsWith('.ts') && !entry.endsWith('.test.ts') && !entry.endsWith('.d.ts')) yield path;
  }
}

/** './x.ts' → './x.js'; '@recording-operator/common/a/b.ts' → the relative path to common/src/a/b.js. */
function rewriteSpecifier(specifier: string, fileOut: string): string {
  if (!specifier.endsWith('.ts')) return specifier;
  if (specifier.startsWith(commonPackage)) {
    const target = join(outDir, 'common', 'src', specifier.slice(commonPackage.length).replace(/\.ts$/, '.js'));
    const path = relative(dirname(fileOut), target);
    return path.startsWith('.') ? path : `./${path}`;
  }
  return specifier.replace(/\.ts$/, '.js');
}

rmSync(outDir, { recursive: true, force: true });
let files = 0;
for (const source of sources) {
  for (const file of typeScriptFiles(join(root, source))) {
    const fileOut = join(outDir, relative(root, file)).replace(/\.ts$/, '.js');
    const code = stripTypeScriptTypes(readFileSync(file, 'utf8'), { mode: 'strip' })
      // static imports and re-exports, dynamic imports
      .replace(/(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])([^'"]+)\2/g, (_, before: string, quote: string, specifier: string) => `${before}${quote}${rewriteSpecifier(specifier, fileOut)}${quote}`);
    mkdirSync(dirname(fileOut), { recursive: true });
    writeFileSync(fileOut, code);
    files++;
  }
}
// The output is ES modules, like the sources.
writeFileSync(join(outDir, 'package.json'), JSON.stringify({ type: 'module', private: true }, null, 2) + '\n');
console.log(`built ${files} files into ${relative(process.cwd(), outDir) || '.'}`);
