// `npm run bench:owners -- PROFILE [--files]`: where a server's CPU went, from a `.cpuprofile` written by
// `npm run bench -- --profile DIR`. Each busy sample goes to its owner: the first frame above it that has a source
// file (Node's internals count for the code that called them), named by our source area or by package; the socket
// write's system call is its own owner, as both sides of a scenario make it. Start-up work (schema compilation,
// module loading) is left out, so a profile of a long run reads as the cost of its requests.
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
}

export interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
  samples: number[];
}

export interface OwnerShare {
  owner: string;
  /** Of the busy samples left after start-up. */
  share: number;
}

const notBusy = new Set(['(idle)', '(program)']);
const socketWrites = new Set(['writeUtf8String', 'writeLatin1String', 'writeBuffer', 'writev']);
const startUp = /avvio|compileSchemasForSerialization|node:internal\/modules\/|node:internal\/main\//;

function ownerOf(stack: CallFrame[], byFile: boolean): string {
  const leaf = stack[0] as CallFrame;
  if (socketWrites.has(leaf.functionName)) return 'node: socket write (system call)';
  if (leaf.functionName === '(garbage collector)') return 'node: garbage collector';
  const frame = stack.find((candidate) => candidate.url !== '' && !candidate.url.startsWith('node:'));
  if (!frame) {
    const internal = stack.find((candidate) => candidate.url !== '')?.url ?? leaf.functionName;
    return `node: ${internal.replace(/^node:(internal\/)?/, '')}`;
  }
  const inPackage = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(frame.url);
  if (inPackage) return `package: ${inPackage[1]}`;
  const source = /\/src\/(.*)$/.exec(frame.url)?.[1] ?? frame.url;
  const parts = source.split('/');
  return `ours: ${byFile ? source : parts.slice(0, parts[0] === 'modules' ? 2 : 1).join('/')}`;
}

/** Each owner's share of the busy samples, largest first. */
export function sharesByOwner(profile: CpuProfile, options: { byFile?: boolean } = {}): OwnerShare[] {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const samplesAt = new Map<number, number>();
  for (const id of profile.samples) samplesAt.set(id, (samplesAt.get(id) ?? 0) + 1);
  const byOwner = new Map<string, number>();
  let busy = 0;
  for (const [id, samples] of samplesAt) {
    const stack: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parents.get(at)) {
      const frame = nodes.get(at)?.callFrame;
      if (frame) stack.push(frame);
    }
    if (stack.length === 0 || notBusy.has((stack[0] as CallFrame).functionName)) continue;
    if (stack.some((frame) => startUp.test(frame.url) || startUp.test(frame.functionName))) continue;
    busy += samples;
    const owner = ownerOf(stack, options.byFile ?? false);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + samples);
  }
  return [...byOwner]
    .map(([owner, samples]) => ({ owner, share: samples / busy }))
    .sort((a, b) => b.share - a.share || a.owner.localeCompare(b.owner));
}

function readProfile(file: string): CpuProfile {
  let profile: Partial<CpuProfile>;
  try {
    profile = JSON.parse(readFileSync(file, 'utf8')) as Partial<CpuProfile>;
  } catch (error) {
    throw new Error(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples))
    throw new Error(`${file} is not a .cpuprofile (no nodes and samples)`);
  return profile as CpuProfile;
}

if (import.meta.main) {
  const [file, ...flags] = process.argv.slice(2);
  if (!file || flags.some((flag) => flag !== '--files')) {
    process.stderr.write('usage: npm run bench:owners -- PROFILE.cpuprofile [--files]\n');
    process.exit(2);
  }
  try {
    const shares = sharesByOwner(readProfile(file), { byFile: flags.includes('--files') });
    const lines = shares
      .filter(({ share }) => share >= 0.001)
      .map(({ owner, share }) => `${(share * 100).toFixed(1).padStart(5)} %  ${owner}\n`);
    process.stdout.write(lines.join(''));
  } catch (error) {
    process.stderr.write(`bench:owners: ${(error as Error).message}\n`);
    process.exit(1);
  }
}
