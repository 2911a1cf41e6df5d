/**
 * "Served" implies "tracked": every request URL the real server answers with
 * a stored file, written into page content in any of the spellings content
 * carries it in, is a use of that file for the usage extractor and the path
 * index. Otherwise the file reads as unused and can be deleted while a page
 * still shows it (issue finding 14).
 *
 * The request URLs are generated around what the router does: it matches its
 * literal segments case-insensitively (`/UPLOADS/`), percent-decodes params
 * once (`%69mages`, `%61.png`), accepts one trailing slash, and ignores the
 * query. Near-misses are generated too (`//`, `%2F` separators, upper-case
 * folders or names, double-encoded escapes); each URL is requested from the
 * real server, and only what it serves (200, and the body tells which file)
 * must be tracked. The test also checks that enough URLs were served, so it
 * cannot pass by generating only refused ones.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { extractMediaPaths, MediaPathIndex } from '../../storage-worker/usage-extraction.js';
import { startServer, uploadsDir, type TestServer } from './harness.js';

const T = suite('served-paths-are-tracked');
const P = 'served-tracked';

interface StoredFile {
  id: string;
  folder: 'images' | 'videos' | 'audios' | 'files';
  name: string;
}

/** Names as the router accepts them: slugs, legacy mixed case, a trailing dot. */
const FILES: readonly StoredFile[] = [
  { id: 'id-photo', folder: 'images', name: 'photo-1.png' },
  { id: 'id-legacy', folder: 'images', name: 'Old_Scan.v2.JPG' },
  { id: 'id-dot', folder: 'images', name: 'draft.' },
  { id: 'id-clip', folder: 'videos', name: 'intro.mp4' },
  { id: 'id-song', folder: 'audios', name: 'theme.mp3' },
  { id: 'id-doc', folder: 'files', name: 'brochure.pdf' },
];

let server: TestServer;
const index = new MediaPathIndex();

T.before(async () => {
  server = await startServer('served-tracked');
  await server.createProject('Served', P);
  for (const file of FILES) {
    const dir = join(uploadsDir(server, P), file.folder);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, file.name), bodyOf(file));
    index.add({ id: file.id, path: `/uploads/${file.folder}/${file.name}`, sizes: {} });
  }
});

T.after(async () => {
  await server.close();
});

function bodyOf(file: StoredFile): string {
  return `bytes of ${file.id}`;
}

// ---------------------------------------------------------------- request URLs

const hex = (c: string): string => c.charCodeAt(0).toString(16).padStart(2, '0');
const swapCase = (c: string): string => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());

/** One character of a folder or name, mostly as written, sometimes escaped or mangled. */
function charSpelling(c: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 16, arbitrary: fc.constant(c) },
    { weight: 1, arbitrary: fc.constant(`%${hex(c)}`) },
    { weight: 1, arbitrary: fc.constant(`%${hex(c).toUpperCase()}`) },
    { weight: 1, arbitrary: fc.constant(swapCase(c)) }, // never served: folders and names are case-sensitive
    { weight: 1, arbitrary: fc.constant(`%25${hex(c)}`) }, // never served: decoded once only
  );
}

function spelled(text: string): fc.Arbitrary<string> {
  return fc.tuple(...[...text].map(charSpelling)).map((chars) => chars.join(''));
}

const separator = fc.oneof({ weight: 12, arbitrary: fc.constant('/') }, { weight: 1, arbitrary: fc.constantFrom('//', '%2F', '%2f', '/./') });

/** A request path for one of FILES, in a spelling the server may or may not serve. */
const requestFor = fc.constantFrom(...FILES).chain((file) =>
  fc
    .tuple(
      fc.mixedCase(fc.constant('api/media/projects')),
      fc.mixedCase(fc.constant('uploads')),
      separator,
      spelled(file.folder),
      separator,
      spelled(file.name),
      fc.constantFrom('', '', '', '/', '//', '?v=2', '?w=640&q=75', '%2F', '.', '#top'),
    )
    .map(([api, uploads, sep1, folder, sep2, name, tail]) => `/${api}/${P}/${uploads}${sep1}${folder}${sep2}${name}${tail}`),
);

// ---------------------------------------------------------------- page spellings

const entity = (c: string): string => (c === '/' ? '&#x2F;' : `&#${c.charCodeAt(0)};`);

/** Ways saved content carries a URL: each one a browser or image proxy turns back into the URL. */
const PAGE_SPELLINGS: Record<string, (url: string) => unknown> = {
  attribute: (url) => ({ html: `<p>x</p><img src="${url}" alt="">` }),
  'absolute URL': (url) => ({ src: `http://127.0.0.1:${server.port}${url}` }),
  'css url()': (url) => ({ style: `.hero{background:url('${url}') no-repeat}` }),
  srcset: (url) => ({ html: `<img srcset="${url} 480w, /x.png 800w">` }),
  'entity slashes': (url) => ({ html: `<img src="${url.replaceAll('/', '&#x2F;')}">` }),
  'entity everything': (url) => ({ html: `<img src="${[...url].map(entity).join('')}">` }),
  'escaped JSON string': (url) => ({ html: JSON.stringify({ html: `<img src="${url}">` }).replaceAll('/', '\\/') }),
  'image proxy query': (url) => ({ src: `/_next/image?url=${encodeURIComponent(url)}&w=640&q=75` }),
  'object key': (url) => ({ alts: { [url]: 'Alt text' } }),
};

T('every URL the server serves, in every page spelling, marks the file it served', async () => {
  let served = 0;
  await fc.assert(
    fc.asyncProperty(requestFor, async (url) => {
      const res = await server.request('GET', url);
      if (res.status !== 200) return; // not served: nothing to track
      const file = FILES.find((f) => bodyOf(f) === res.text);
      assert.ok(file, `${url} served bytes of no known file`);
      served++;
      for (const [spelling, page] of Object.entries(PAGE_SPELLINGS)) {
        const ids = index.match(extractMediaPaths(page(url)));
        assert.ok(ids.includes(file.id), `${spelling}: ${url} serves ${file.folder}/${file.name}, but the page marks ${JSON.stringify(ids)}`);
      }
    }),
    { numRuns: 400 },
  );
  assert.ok(served >= 25, `only ${served} of 400 generated URLs were served`);
});

T('the spellings of finding 14, requested for real', async () => {
  const photo = FILES[0]!;
  for (const url of [`/api/media/projects/${P}/UPLOADS/images/photo-1.png`, `/api/media/projects/${P}/uploads/%69mages/photo%2D1.png`]) {
    const res = await server.request('GET', url);
    assert.is(res.status, 200, url);
    for (const [spelling, page] of Object.entries(PAGE_SPELLINGS)) {
      assert.equal(index.match(extractMediaPaths(page(url))), [photo.id], `${spelling}: ${url}`);
    }
  }
});

T.run();
