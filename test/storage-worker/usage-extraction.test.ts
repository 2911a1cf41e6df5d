import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { extractMediaPaths, MediaPathIndex } from '../../storage-worker/usage-extraction.js';
import type { MediaDocument, MediaRecord, MediaSizeVariant } from '../../shared/media-types.js';

const X = suite('usage-extraction');

function variant(filename: string, width: number): MediaSizeVariant {
  return { path: `/uploads/images/${filename}`, filename, width, height: width, size: width * 10 };
}

function record(id: string, folder: string, filename: string, sizes: Record<string, MediaSizeVariant> = {}): MediaRecord {
  return {
    id,
    filename,
    originalName: filename,
    type: folder === 'images' ? 'image/jpeg' : 'application/octet-stream',
    size: 1234,
    uploaded: '2026-01-01T00:00:00.000Z',
    path: `/uploads/${folder}/${filename}`,
    metadata: {},
    width: null,
    height: null,
    sizes,
    usedIn: [],
  };
}

const hero = record('id-hero', 'images', 'hero.jpg', {
  thumb: variant('hero-thumb.jpg', 150),
  small: variant('hero-small.jpg', 480),
  medium: variant('hero-medium.jpg', 800),
  large: variant('hero-large.jpg', 1600),
});
const logo = record('id-logo', 'images', 'logo.png');
const clip = record('id-clip', 'videos', 'intro.mp4');
const song = record('id-song', 'audios', 'theme.mp3');
const brochure = record('id-doc', 'files', 'brochure.pdf');
const library: MediaDocument = { files: [hero, logo, clip, song, brochure] };

// ---------------------------------------------------------------- where paths sit

X('widget settings', () => {
  const page = {
    id: 'home',
    widgets: [
      { id: 'w1', type: 'image', settings: { src: '/uploads/images/logo.png', alt: 'Logo', width: 200 } },
      { id: 'w2', type: 'video', settings: { src: '/uploads/videos/intro.mp4', autoplay: false } },
      { id: 'w3', type: 'text', settings: { text: 'no media here' } },
    ],
  };
  assert.equal(extractMediaPaths(page), ['/uploads/images/logo.png', '/uploads/videos/intro.mp4']);
});

X('block settings', () => {
  const page = {
    blocks: [
      { type: 'section', settings: { background: { image: '/uploads/images/hero.jpg', overlay: 0.4 } }, widgets: [] },
      { type: 'section', settings: { audio: '/uploads/audios/theme.mp3' } },
    ],
  };
  const paths = extractMediaPaths(page);
  assert.equal(paths, ['/uploads/images/hero.jpg', '/uploads/audios/theme.mp3']);
  assert.equal(new MediaPathIndex(library).match(paths), ['id-hero', 'id-song']);
});

X('seo.og_image with the leading slash', () => {
  assert.equal(extractMediaPaths({ seo: { title: 'Home', og_image: '/uploads/images/hero-large.jpg' } }), [
    '/uploads/images/hero-large.jpg',
  ]);
});

X('seo.og_image without the leading slash is normalised', () => {
  const paths = extractMediaPaths({ seo: { og_image: 'uploads/images/logo.png' } });
  assert.equal(paths, ['/uploads/images/logo.png']);
  assert.equal(new MediaPathIndex(library).match(paths), ['id-logo']);
});

X('richtext HTML holding a size-variant path matches the variant owner', () => {
  const html =
    '<p>Welcome!</p><figure><img src="/uploads/images/hero-medium.jpg" alt="Hero" width="800"></figure>' +
    "<p>More <a href='/uploads/files/brochure.pdf'>here</a>.</p>";
  const paths = extractMediaPaths({ widgets: [{ type: 'richtext', settings: { html } }] });
  assert.equal(paths, ['/uploads/images/hero-medium.jpg', '/uploads/files/brochure.pdf']);
  assert.equal(new MediaPathIndex(library).match(paths), ['id-hero', 'id-doc']);
});

X('srcset with several variants: every path, one owner', () => {
  const html =
    '<img src="/uploads/images/hero.jpg" srcset="/uploads/images/hero-small.jpg 480w, /uploads/images/hero-medium.jpg 800w,' +
    '/uploads/images/hero-large.jpg 1600w" sizes="100vw">';
  const paths = extractMediaPaths(html);
  assert.equal(paths, [
    '/uploads/images/hero.jpg',
    '/uploads/images/hero-small.jpg',
    '/uploads/images/hero-medium.jpg',
    '/uploads/images/hero-large.jpg',
  ]);
  assert.equal(new MediaPathIndex(library).match(paths), ['id-hero']);
});

X('CSS url(...) unquoted, quoted, and with HTML-escaped quotes', () => {
  const css =
    '.a{background:url(/uploads/images/one.jpg)} .b{background-image:url("uploads/images/two.jpg")} ' +
    ".c{background:url('/uploads/images/three.jpg') no-repeat}";
  const styleAttr = '<div style="background-image: url(&quot;/uploads/images/four.jpg&quot;);">x</div>';
  assert.equal(extractMediaPaths([css, styleAttr]), [
    '/uploads/images/one.jpg',
    '/uploads/images/two.jpg',
    '/uploads/images/three.jpg',
    '/uploads/images/four.jpg',
  ]);
});

X('link objects', () => {
  const content = {
    button: { label: 'Download', link: { url: '/uploads/files/brochure.pdf', target: '_blank' } },
    menu: [{ title: 'Song', url: 'http://localhost:3001/uploads/audios/theme.mp3' }, { title: 'Home', url: '/' }],
  };
  const paths = extractMediaPaths(content);
  assert.equal(paths, ['/uploads/files/brochure.pdf', '/uploads/audios/theme.mp3']);
  assert.equal(new MediaPathIndex(library).match(paths), ['id-doc', 'id-song']);
});

X('nested arrays', () => {
  const content = [[['/uploads/images/a.jpg'], []], [[[['/uploads/videos/b.mp4']]]], 'uploads/files/c.pdf'];
  assert.equal(extractMediaPaths(content), ['/uploads/images/a.jpg', '/uploads/videos/b.mp4', '/uploads/files/c.pdf']);
});

X('deep nesting (deeper than the call stack) is walked', () => {
  let deep: unknown = { src: '/uploads/images/bottom.jpg' };
  for (let i = 0; i < 50_000; i++) deep = i % 2 === 0 ? { child: deep } : [deep];
  assert.equal(extractMediaPaths({ top: '/uploads/images/top.jpg', deep }), [
    '/uploads/images/top.jpg',
    '/uploads/images/bottom.jpg',
  ]);
});

X('order is document order (depth first), not breadth first', () => {
  const content = { a: { b: { c: '/uploads/images/1.jpg' } }, d: '/uploads/images/2.jpg', e: ['/uploads/images/3.jpg'] };
  assert.equal(extractMediaPaths(content), ['/uploads/images/1.jpg', '/uploads/images/2.jpg', '/uploads/images/3.jpg']);
});

X('duplicates are reported once, at their first appearance', () => {
  const content = {
    x: '/uploads/images/b.jpg',
    y: ['uploads/images/a.jpg', '/uploads/images/b.jpg'],
    z: '<img src="/uploads/images/a.jpg"><img src="/uploads/images/a.jpg?v=2">',
  };
  const paths = extractMediaPaths(content);
  assert.equal(paths, ['/uploads/images/b.jpg', '/uploads/images/a.jpg']);
});

X('several paths in one string, every folder', () => {
  const text = 'Photo /uploads/images/p.jpg, clip /uploads/videos/v.webm, song /uploads/audios/s.ogg and doc /uploads/files/d.zip';
  assert.equal(extractMediaPaths(text), [
    '/uploads/images/p.jpg',
    '/uploads/videos/v.webm',
    '/uploads/audios/s.ogg',
    '/uploads/files/d.zip',
  ]);
});

// ---------------------------------------------------------------- where a name ends

X('a trailing sentence period is not part of the name (but one dot may be: both spellings count)', () => {
  // The router serves a stored name ending in one `.`, so `a.jpg.` may be
  // that file as well as `a.jpg` followed by a period; `b.pdf..` never is
  // (names never hold `..`).
  assert.equal(extractMediaPaths('See /uploads/images/a.jpg. Then /uploads/files/b.pdf... And /uploads/files/c.pdf!'), [
    '/uploads/images/a.jpg',
    '/uploads/images/a.jpg.',
    '/uploads/files/b.pdf',
    '/uploads/files/c.pdf',
  ]);
});

X('query strings and fragments are not part of the name', () => {
  assert.equal(extractMediaPaths(['/uploads/images/a.jpg?v=2', '/uploads/videos/b.mp4#t=10', 'uploads/files/c.pdf?x=1#p3']), [
    '/uploads/images/a.jpg',
    '/uploads/videos/b.mp4',
    '/uploads/files/c.pdf',
  ]);
});

X('a full URL contains the path', () => {
  assert.equal(
    extractMediaPaths({
      a: 'http://localhost:3001/uploads/images/a.jpg',
      b: 'https://cdn.example.com/site/uploads/images/b.jpg?w=300',
    }),
    ['/uploads/images/a.jpg', '/uploads/images/b.jpg'],
  );
});

X('the media API URL contains the path', () => {
  const paths = extractMediaPaths('<img src="/api/media/projects/3f2a-77/uploads/images/hero-thumb.jpg">');
  assert.equal(paths, ['/uploads/images/hero-thumb.jpg']);
  assert.equal(new MediaPathIndex(library).match(paths), ['id-hero']);
});

X('an URL-encoded name is decoded once', () => {
  assert.equal(extractMediaPaths(['/uploads/images/my%20photo.jpg', '/uploads/images/caf%C3%A9.png', '/uploads/images/x%2520y.jpg']), [
    '/uploads/images/my photo.jpg',
    '/uploads/images/café.png',
    '/uploads/images/x%20y.jpg',
  ]);
});

X('a stray percent sign is kept as written, not thrown', () => {
  assert.equal(extractMediaPaths(['/uploads/images/100%-done.png', '/uploads/images/bad%E0%A4.png']), [
    '/uploads/images/100%-done.png',
    '/uploads/images/bad%E0%A4.png',
  ]);
});

X('a path carried encoded inside a query string counts', () => {
  const src = '/_next/image?url=%2Fuploads%2Fimages%2Fhero-small.jpg&w=640&q=75';
  const encodedTwice = '/_next/image?url=%2Fuploads%2Fimages%2Fmy%2520photo.jpg&w=640';
  assert.equal(extractMediaPaths([src, encodedTwice]), ['/uploads/images/hero-small.jpg', '/uploads/images/my photo.jpg']);
});

X('HTML and text delimiters end the name', () => {
  const content = [
    '<a href=/uploads/files/a.pdf>a</a>',
    '[/uploads/files/b.pdf]',
    '{"src":"/uploads/files/c.pdf"}',
    '(/uploads/files/d.pdf)',
    'x=/uploads/files/e.pdf;y=1',
    '`/uploads/files/f.pdf`',
    '/uploads/files/g.pdf\tnext',
  ];
  assert.equal(extractMediaPaths(content), [
    '/uploads/files/a.pdf',
    '/uploads/files/b.pdf',
    '/uploads/files/c.pdf',
    '/uploads/files/d.pdf',
    '/uploads/files/e.pdf',
    '/uploads/files/f.pdf',
    '/uploads/files/g.pdf',
  ]);
});

// ---------------------------------------------------------------- every spelling the server serves

X('upper- and mixed-case `uploads` counts (the router matches literals case-insensitively)', () => {
  const paths = extractMediaPaths(['/UPLOADS/images/logo.png', 'http://host/Uploads/files/brochure.pdf', '/API/MEDIA/PROJECTS/p/uPlOaDs/videos/intro.mp4']);
  assert.equal(paths, ['/uploads/images/logo.png', '/uploads/files/brochure.pdf', '/uploads/videos/intro.mp4']);
  assert.equal(new MediaPathIndex(library).match(paths), ['id-logo', 'id-doc', 'id-clip']);
});

X('a percent-encoded folder or name counts as the decoded one (the router decodes params)', () => {
  const paths = extractMediaPaths(['/uploads/%69mages/logo.png', '/uploads/files/%62rochure%2Epdf', '/uploads/%61%75%64%69%6F%73/theme.mp3']);
  assert.equal(paths, ['/uploads/images/logo.png', '/uploads/files/brochure.pdf', '/uploads/audios/theme.mp3']);
  assert.equal(new MediaPathIndex(library).match(paths), ['id-logo', 'id-doc', 'id-song']);
});

X('JSON-escaped slashes count (HTML kept as an escaped JSON string)', () => {
  const page = { html: '{"html":"<img src=\\"\\/uploads\\/images\\/logo.png\\"> <a href=\\"\\u002Fuploads\\u002Ffiles\\u002Fbrochure.pdf\\">"}' };
  const paths = extractMediaPaths(page);
  assert.equal(paths, ['/uploads/images/logo.png', '/uploads/files/brochure.pdf']);
  assert.equal(new MediaPathIndex(library).match(paths), ['id-logo', 'id-doc']);
});

X('HTML character references count: &#x2F; &#47; &sol; and an encoded name', () => {
  const html =
    '<img src="&#x2F;uploads&#x2F;images&#x2F;logo.png"> <img src="&#47;uploads&#047;images&#x002f;hero&#46;jpg">' +
    ' <a href="&sol;uploads&sol;files&sol;brochure&period;pdf">x</a> <audio src="/uploads/audios/&#116;heme.mp3">';
  const paths = extractMediaPaths({ html });
  assert.equal(paths, ['/uploads/images/logo.png', '/uploads/images/hero.jpg', '/uploads/files/brochure.pdf', '/uploads/audios/theme.mp3']);
  assert.equal(new MediaPathIndex(library).match(paths), ['id-logo', 'id-hero', 'id-doc', 'id-song']);
});

X('%2F-encoded paths count with every folder, next to other encoded parameters', () => {
  const paths = extractMediaPaths('/_next/image?url=%2FUPLOADS%2Fvideos%2Fintro.mp4%26w%3D1&x=%2fuploads%2ffiles%2fbrochure.pdf');
  assert.equal(paths, ['/uploads/videos/intro.mp4', '/uploads/files/brochure.pdf']);
  // encodeURIComponent('/uploads/%69mages/logo.png'): the folder's escape is encoded again
  assert.equal(extractMediaPaths('?url=%2Fuploads%2F%2569mages%2Flogo.png&w=1'), ['/uploads/images/logo.png']);
});

X('a path used as an object key counts', () => {
  const content = { alts: { '/uploads/images/logo.png': 'Logo', 'uploads/files/brochure.pdf': 'Brochure' } };
  assert.equal(new MediaPathIndex(library).match(extractMediaPaths(content)), ['id-logo', 'id-doc']);
});

X('a name ending in one dot is counted with and without it', () => {
  const legacy = { ...record('id-dot', 'images', 'scan.'), path: '/uploads/images/scan.' };
  const paths = extractMediaPaths('<img src="/uploads/images/scan.">');
  assert.equal(paths, ['/uploads/images/scan', '/uploads/images/scan.']);
  assert.equal(new MediaPathIndex({ files: [legacy] }).match(paths), ['id-dot']);
});

X('a path whose name is itself `uploads` does not hide the path that follows', () => {
  assert.equal(extractMediaPaths('/uploads/images/uploads/images/a.jpg'), ['/uploads/images/uploads', '/uploads/images/a.jpg']);
});

// ---------------------------------------------------------------- what is not a media path

X('non-media uploads dirs and look-alikes are ignored', () => {
  const content = [
    '/uploads/other/x.jpg',
    '/uploads/imagesx/y.jpg',
    '/uploads/images',
    '/uploads/images/',
    '/uploads/images/?v=1',
    '/media-uploads/images/z.jpg',
    'myuploads/images/z.jpg',
    '/static.uploads/images/z.jpg',
    '/Uploads/Images/z.jpg',
    '/uploads/images/..',
    '/uploads/images/%2E%2E',
    '/uploads/images/a%2Fb.jpg',
  ];
  assert.equal(extractMediaPaths(content), []);
});

X('a rejected look-alike does not hide a real path right after it', () => {
  // `xuploads/images/` is rejected, but the `/uploads/images/a.jpg` that follows
  // it is a path like any under a URL prefix.
  assert.equal(extractMediaPaths('xuploads/images/uploads/images/a.jpg and media-uploads/files/f /uploads/files/ok.pdf'), [
    '/uploads/images/a.jpg',
    '/uploads/files/ok.pdf',
  ]);
});

X('empty, null, number, boolean and undefined content yield nothing', () => {
  for (const content of [undefined, null, 0, 42, Number.NaN, true, false, '', {}, [], [null, 1, false], { a: null }]) {
    assert.equal(extractMediaPaths(content), [], `content ${String(content)}`);
  }
});

X('a top-level string is scanned', () => {
  assert.equal(extractMediaPaths('uploads/videos/a.mp4'), ['/uploads/videos/a.mp4']);
});

X('keys count like values (a path used as a key is a use), key before its value', () => {
  const content = {
    '/uploads/images/key.jpg': 'plain',
    'uploads/files/key.pdf': { '/uploads/videos/key.mp4': '/uploads/images/value.jpg' },
  };
  assert.equal(extractMediaPaths(content), [
    '/uploads/images/key.jpg',
    '/uploads/files/key.pdf',
    '/uploads/videos/key.mp4',
    '/uploads/images/value.jpg',
  ]);
});

X('a cycle does not hang, and a shared sub-object is read once', () => {
  const shared = { src: '/uploads/images/shared.jpg' };
  const a: Record<string, unknown> = { name: 'a', img: '/uploads/images/a.jpg', shared };
  const b: Record<string, unknown> = { name: 'b', parent: a, shared, img: '/uploads/images/b.jpg' };
  a.child = b;
  a.self = a;
  const list: unknown[] = ['/uploads/files/l.pdf'];
  list.push(list, a);
  assert.equal(extractMediaPaths({ root: a, list }), [
    '/uploads/images/a.jpg',
    '/uploads/images/shared.jpg',
    '/uploads/images/b.jpg',
    '/uploads/files/l.pdf',
  ]);
});

X('repeated calls are independent (no regex state carried over)', () => {
  const first = extractMediaPaths('aaaa /uploads/images/late-in-a-long-string.jpg');
  const second = extractMediaPaths('/uploads/images/early.jpg');
  assert.equal(first, ['/uploads/images/late-in-a-long-string.jpg']);
  assert.equal(second, ['/uploads/images/early.jpg']);
  assert.equal(extractMediaPaths('/uploads/images/early.jpg'), second);
});

X('a large content (5,000 widgets) is extracted completely and correctly', () => {
  const widgets = [];
  for (let i = 0; i < 5_000; i++) {
    widgets.push({
      id: `w${i}`,
      type: i % 3 === 0 ? 'richtext' : 'image',
      settings:
        i % 3 === 0
          ? { html: `<p>Paragraph ${i} with <img src="/uploads/images/img-${i}.jpg" alt="">.</p>` }
          : { src: `uploads/images/img-${i}.jpg`, alt: `Image ${i}`, link: { url: '/uploads/images/logo.png' } },
    });
  }
  const paths = extractMediaPaths({ widgets });
  assert.is(paths.length, 5_001);
  assert.is(paths[0], '/uploads/images/img-0.jpg');
  assert.is(paths[1], '/uploads/images/img-1.jpg');
  assert.is(paths[2], '/uploads/images/logo.png');
  assert.is(paths[5_000], '/uploads/images/img-4999.jpg');
  assert.is(new Set(paths).size, paths.length);
});

// ---------------------------------------------------------------- MediaPathIndex

X('index: every record path and every variant path maps to its record', () => {
  const index = new MediaPathIndex(library);
  assert.is(index.size, 5);
  for (const [path, id] of [
    ['/uploads/images/hero.jpg', 'id-hero'],
    ['/uploads/images/hero-thumb.jpg', 'id-hero'],
    ['/uploads/images/hero-large.jpg', 'id-hero'],
    ['/uploads/images/logo.png', 'id-logo'],
    ['/uploads/videos/intro.mp4', 'id-clip'],
    ['/uploads/audios/theme.mp3', 'id-song'],
    ['/uploads/files/brochure.pdf', 'id-doc'],
  ] as const) {
    assert.equal(index.match([path]), [id], path);
  }
});

X('index: paths of unknown files are ignored, ids unique and in path order', () => {
  const index = new MediaPathIndex(library);
  const ids = index.match([
    '/uploads/images/unknown.jpg',
    '/uploads/files/brochure.pdf',
    '/uploads/images/hero-small.jpg',
    '/uploads/images/missing-thumb.jpg',
    '/uploads/images/hero.jpg',
    '/uploads/files/brochure.pdf',
  ]);
  assert.equal(ids, ['id-doc', 'id-hero']);
  assert.equal(index.match([]), []);
  assert.equal(new MediaPathIndex().match(['/uploads/images/hero.jpg']), []);
});

X('index: add and remove maintain it incrementally', () => {
  const index = new MediaPathIndex({ files: [logo] });
  assert.equal(index.match(['/uploads/images/hero-thumb.jpg', '/uploads/images/logo.png']), ['id-logo']);

  index.add(hero);
  assert.equal(index.match(['/uploads/images/hero-thumb.jpg', '/uploads/images/logo.png']), ['id-hero', 'id-logo']);

  index.remove(logo);
  assert.equal(index.match(['/uploads/images/hero-thumb.jpg', '/uploads/images/logo.png']), ['id-hero']);

  index.remove({ id: 'never-added' });
  index.remove(hero);
  assert.equal(index.match(['/uploads/images/hero.jpg', '/uploads/images/hero-thumb.jpg']), []);
  assert.is(index.size, 0);
});

X('index: re-adding an id replaces its paths; remove does not rely on the record passed in', () => {
  const index = new MediaPathIndex();
  index.add(record('id-r', 'images', 'old.jpg', { thumb: variant('old-thumb.jpg', 150) }));
  index.add(record('id-r', 'images', 'new.jpg'));
  assert.equal(index.match(['/uploads/images/old.jpg', '/uploads/images/old-thumb.jpg']), []);
  assert.equal(index.match(['/uploads/images/new.jpg']), ['id-r']);
  assert.is(index.size, 1);

  // The caller hands a record whose paths changed since it was indexed.
  index.remove(record('id-r', 'images', 'something-else.jpg'));
  assert.equal(index.match(['/uploads/images/new.jpg']), []);
});

X('index: a path claimed by two records marks both (over-marking is safe), removal keeps the other', () => {
  const a = record('id-a', 'images', 'dup.jpg');
  const b = record('id-b', 'images', 'b.jpg', { thumb: variant('dup.jpg', 150) });
  const index = new MediaPathIndex({ files: [a, b] });
  assert.equal(index.match(['/uploads/images/dup.jpg']), ['id-a', 'id-b']);
  index.remove(a);
  assert.equal(index.match(['/uploads/images/dup.jpg']), ['id-b']);
});

X('index: a legacy record path without the leading slash still matches', () => {
  const legacy = { ...record('id-legacy', 'images', 'old.jpg'), path: 'uploads/images/old.jpg' };
  const index = new MediaPathIndex({ files: [legacy] });
  assert.equal(index.match(extractMediaPaths({ src: 'uploads/images/old.jpg' })), ['id-legacy']);
});

X.run();
