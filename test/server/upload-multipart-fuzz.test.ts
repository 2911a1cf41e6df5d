/**
 * Fuzzes the multipart receiver against a real server with fast-check:
 * random and mutated multipart bodies (boundaries, part headers, field and
 * file names up to huge, truncation, flipped bytes, many parts) built from
 * real media samples. After every request:
 *
 *   - never a 5xx;
 *   - a refused request (anything but 201) left the data tree unchanged;
 *   - the files in the upload folders are exactly those the records in
 *     media.json (read from disk) point at: no partial or orphaned file.
 *
 * Bounded by default (a few seconds); FUZZ_RUNS=<n> runs longer, FUZZ_SEED
 * replays a failure.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { MediaRecord } from '../../shared/media-types.js';
import { mp3, mp4, pdf, raster, svg, UNSAFE_SVGS } from '../fixtures/media-samples.js';
import { hashTree, send, startServer, uploadsDir, type TestServer } from './harness.js';

const Fuzz = suite('upload: multipart fuzz');

const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const KB = 1024;
const P = 'fuzz';
const FOLDERS = ['images', 'videos', 'audios', 'files'];

let server: TestServer;
let samples: Buffer[] = [];

Fuzz.before(async () => {
  server = await startServer('upload-fuzz', {
    // Small caps so the fuzzer reaches them; the request cap below a few samples.
    UPLOAD_MAX_IMAGE_BYTES: String(48 * KB),
    UPLOAD_MAX_VIDEO_BYTES: String(8 * KB),
    UPLOAD_MAX_AUDIO_BYTES: String(8 * KB),
    UPLOAD_MAX_PDF_BYTES: String(4 * KB),
    UPLOAD_MAX_REQUEST_BYTES: String(256 * KB),
    UPLOAD_MAX_FILES: '4',
  });
  await server.createProject('Fuzz', P);
  samples = [
    await raster('png', 16, 12),
    await raster('jpeg', 200, 100),
    await raster('gif', 20, 20),
    await raster('webp', 24, 24),
    svg(),
    UNSAFE_SVGS[0]!.data,
    pdf(),
    mp4(1024),
    mp3(4),
    Buffer.from('plain text, not media'),
    Buffer.alloc(0),
    await raster('png', 200, 200, 3), // ~110 KB: over the image cap
  ];
});

Fuzz.after(async () => {
  await server?.close();
});

interface Part {
  field: string;
  filename: string | null;
  contentType: string | null;
  extraHeader: string | null;
  sample: number;
  /** how many times the sample is repeated (pushes past the caps) */
  repeat: number;
}

type Mutation =
  | { kind: 'none' }
  | { kind: 'truncate'; at: number }
  | { kind: 'flip'; flips: Array<{ at: number; byte: number }> }
  | { kind: 'splice'; at: number; text: string }
  | { kind: 'no-closing-boundary' };

interface Body {
  parts: Part[];
  textFields: number;
  boundary: string;
  /** the boundary the Content-Type header announces (usually the same) */
  headerBoundary: string;
  mutation: Mutation;
}

/** `usual` five times in six, else `unusual`: most bodies stay close enough to valid to reach the later steps. */
function mostly<T, U>(usual: fc.Arbitrary<T>, unusual: fc.Arbitrary<U>): fc.Arbitrary<T | U> {
  return fc.oneof({ weight: 5, arbitrary: usual }, { weight: 1, arbitrary: unusual });
}

/** Stands for the sample's own name (right extension), filled in by `encode`. */
const SAMPLE_NAME = '\u0000sample-name';
const SAMPLE_NAMES = ['a.png', 'b.jpg', 'c.gif', 'd.webp', 'e.svg', 'unsafe.svg', 'f.pdf', 'g.mp4', 'h.mp3', 'notes.txt', 'empty.png', 'big.png'];

const name = fc.oneof(
  fc.constantFrom('photo.png', 'a.jpg', 'clip.mp4', 'doc.pdf', 'song.mp3', 'x.svg', 'no-extension', '.png', '../../etc/passwd', 'a\\b.png', 'имя файла.gif'),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 300 }),
  fc.nat(3000).map((n) => `${'n'.repeat(n)}.png`),
);

const part: fc.Arbitrary<Part> = fc.record({
  field: fc.oneof({ weight: 6, arbitrary: fc.constant('files') }, fc.string({ maxLength: 12 }), fc.nat(70_000).map((n) => 'f'.repeat(n))),
  filename: mostly(fc.constant(SAMPLE_NAME), fc.option(name)),
  contentType: fc.option(fc.constantFrom('image/png', 'application/octet-stream', 'text/plain; charset=utf-8', 'multipart/mixed; boundary=x', 'nonsense')),
  extraHeader: mostly(fc.constant(null), fc.oneof(fc.constant('Content-Transfer-Encoding: base64'), fc.string({ maxLength: 200 }))),
  sample: fc.nat(11),
  repeat: fc.oneof({ weight: 8, arbitrary: fc.constant(1) }, fc.integer({ min: 2, max: 40 })),
});

const boundaryText = fc.oneof(
  fc.constant('----fuzz-boundary'),
  fc.stringMatching(/^[A-Za-z0-9'()+_,\-./:=?]{1,70}$/),
  fc.nat(200).map((n) => 'b'.repeat(n + 1)),
);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'none' as const }) },
  fc.record({ kind: fc.constant('truncate' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
  fc.record({ kind: fc.constant('flip' as const), flips: fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), byte: fc.nat(255) }), { minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('splice' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), text: fc.constantFrom('\r\n', '\r\n\r\n', '--', '"', '\u0000', 'Content-Disposition: form-data; name="files"; filename="z.png"\r\n\r\n') }),
  fc.constant({ kind: 'no-closing-boundary' as const }),
);

const body: fc.Arbitrary<Body> = fc
  .record({
    parts: fc.array(part, { maxLength: 7 }),
    textFields: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, fc.nat(300)),
    boundary: boundaryText,
    otherHeaderBoundary: mostly(fc.constant(null), boundaryText),
    mutation,
  })
  .map(({ otherHeaderBoundary, ...rest }) => ({ ...rest, headerBoundary: otherHeaderBoundary ?? rest.boundary }));

function encode(b: Body): Buffer {
  const chunks: Buffer[] = [];
  for (let i = 0; i < b.textFields; i++) chunks.push(Buffer.from(`--${b.boundary}\r\nContent-Disposition: form-data; name="t${i}"\r\n\r\nvalue ${i}\r\n`));
  for (const p of b.parts) {
    let head = `--${b.boundary}\r\nContent-Disposition: form-data; name="${p.field}"`;
    if (p.filename !== null) head += `; filename="${p.filename === SAMPLE_NAME ? SAMPLE_NAMES[p.sample] : p.filename}"`;
    head += '\r\n';
    if (p.contentType !== null) head += `Content-Type: ${p.contentType}\r\n`;
    if (p.extraHeader !== null) head += `${p.extraHeader}\r\n`;
    const data = samples[p.sample]!;
    chunks.push(Buffer.from(`${head}\r\n`, 'utf8'), ...Array.from({ length: p.repeat }, () => data), Buffer.from('\r\n'));
  }
  if (b.mutation.kind !== 'no-closing-boundary') chunks.push(Buffer.from(`--${b.boundary}--\r\n`));
  let out = Buffer.concat(chunks);
  const m = b.mutation;
  const pos = (f: number): number => Math.min(out.byteLength, Math.floor(f * out.byteLength));
  if (m.kind === 'truncate') out = out.subarray(0, pos(m.at));
  if (m.kind === 'flip') {
    out = Buffer.from(out);
    for (const f of m.flips) if (out.byteLength > 0) out[Math.min(out.byteLength - 1, pos(f.at))] = f.byte;
  }
  if (m.kind === 'splice') out = Buffer.concat([out.subarray(0, pos(m.at)), Buffer.from(m.text, 'utf8'), out.subarray(pos(m.at))]);
  return out;
}

/** Files in the upload folders, relative (`images/a.png`). */
async function storedFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const folder of FOLDERS) for (const f of await readdir(join(uploadsDir(server, P), folder))) out.push(`${folder}/${f}`);
  return out.sort();
}

/** What the records in media.json (the bytes on disk) point at. */
async function referencedFiles(): Promise<string[]> {
  const doc = JSON.parse(await readFile(join(uploadsDir(server, P), 'media.json'), 'utf8')) as { files: MediaRecord[] };
  return doc.files.flatMap((r) => [r.path, ...Object.values(r.sizes).map((v) => v.path)].map((p) => p.replace(/^\/uploads\//, ''))).sort();
}

/**
 * A request the server never answers is a failure (a stalled part), not a
 * hang of the suite: give up on it after a generous wait. Not a timing
 * assertion — no answer in 20 s means none is coming.
 */
async function answerOf<T>(request: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the server never answered')), 20_000)));
  try {
    return await Promise.race([request, stalled]);
  } finally {
    clearTimeout(timer);
  }
}

const filePart = (filename: string, sample: number, repeat: number, extraHeader: string | null): Part => ({ field: 'files', filename, contentType: null, extraHeader, sample, repeat });

/** Bodies the fuzzer found once, replayed on every run. */
const FOUND: Body[] = [
  // busboy found a part header malformed while an earlier file part was
  // still streaming, and stopped without ending that part: the request hung.
  {
    parts: [
      filePart(`${'n'.repeat(1588)}.png`, 5, 1, 'c@&Pf'),
      filePart(`${'n'.repeat(642)}.png`, 0, 1, 'Content-Transfer-Encoding: base64'),
      filePart('x.jpg', 1, 25, 'Content-Transfer-Encoding: base64'),
    ],
    textFields: 0,
    boundary: 'b'.repeat(82),
    headerBoundary: 'b'.repeat(82),
    mutation: { kind: 'none' },
  },
];

/** One request and the checks after it. */
async function checkOne(b: Body, statuses: Map<number, number>): Promise<void> {
  const before = await hashTree(server.dataDir);
  const res = await answerOf(
    send(server.port, 'POST', `/api/media/projects/${P}/media`, {
      headers: { 'content-type': `multipart/form-data; boundary=${b.headerBoundary}` },
      body: encode(b),
    }),
  );
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  assert.ok(res.status < 500, `${res.status} ${res.text.slice(0, 300)}`);
  assert.ok(String(res.headers['content-type']).startsWith('application/json'), res.text.slice(0, 200));
  if (res.status !== 201) assert.is(await hashTree(server.dataDir), before, `refused with ${res.status} but the data tree changed`);
  assert.equal(await storedFiles(), await referencedFiles());
}

Fuzz('random and mutated multipart bodies: never 5xx, refusals change nothing, no file without a record', async () => {
  const statuses = new Map<number, number>();
  // The server's state carries over between runs, so after one failure every
  // later run may fail too and shrinking would report an innocent body: the
  // first failing body is the one reported.
  let first: { body: Body; err: unknown } | undefined;
  try {
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        if (first !== undefined) throw new Error('an earlier request failed');
        try {
          await checkOne(b, statuses);
        } catch (err) {
          first = { body: b, err };
          throw err;
        }
      }),
      { numRuns: RUNS, endOnFailure: true, examples: FOUND.map((b) => [b]), ...(SEED === undefined ? {} : { seed: SEED }) },
    );
  } catch (err) {
    if (first === undefined) throw err;
    const summary = JSON.stringify(first.body, (k, v: unknown) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 40)}…(${v.length} chars)` : v));
    throw new Error(`first failing body: ${summary}\n${first.err instanceof Error ? first.err.message : String(first.err)}`, { cause: err });
  }
  // The fuzzer reached both sides: accepted uploads and refusals.
  assert.ok(statuses.get(201), `no upload was accepted: ${JSON.stringify([...statuses])}`);
  assert.ok([...statuses.keys()].some((s) => s >= 400), `nothing was refused: ${JSON.stringify([...statuses])}`);
});

Fuzz.run();
