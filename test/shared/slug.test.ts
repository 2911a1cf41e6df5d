import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ID_PATTERN, MAX_ID_LENGTH } from '../../shared/ids.js';
import { FILE_NAME_SLUG, PROJECT_ID_SLUG, slugify, withSuffix } from '../../shared/slug.js';
import { storedNameSlug } from '../../server/upload/slug.js';
import { projectIdCandidates } from '../../storage-worker/project-id-candidates.js';
import { fuzzRuns } from '../helpers/fuzz-runs.js';

const T = suite('slug');

const SLUG_SHAPE = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const RULES = [FILE_NAME_SLUG, PROJECT_ID_SLUG];
/** Names with accents, symbols, spaces and astral characters, not only ASCII. */
const names = fc.string({ unit: fc.oneof(fc.constantFrom(...'aZé É-_ .ñß(1)ﬁ'.split('')), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })), maxLength: 140 });

T('diacritics are dropped, not turned into separators: "Résumé" is resume everywhere', () => {
  assert.is(slugify('Résumé', PROJECT_ID_SLUG), 'resume');
  assert.is(storedNameSlug('Résumé.pdf'), 'resume');
  assert.is(projectIdCandidates('Résumé')[0], 'resume');
  assert.is(storedNameSlug('C:\\fakepath\\Café Photo (1).JPG'), 'cafe-photo-1');
  assert.is(slugify('My Site!', PROJECT_ID_SLUG), 'my-site');
});

T('a name with nothing sluggable gets the rule fallback', () => {
  assert.is(slugify('!!!', PROJECT_ID_SLUG), 'project');
  assert.is(slugify('', FILE_NAME_SLUG), 'file');
  assert.is(storedNameSlug('???.png'), 'file');
});

T('property: a slug is lowercase ASCII words joined by single dashes, within its limit, and stable', () => {
  fc.assert(
    fc.property(names, fc.constantFrom(...RULES), (name, rule) => {
      const slug = slugify(name, rule);
      assert.match(slug, SLUG_SHAPE);
      assert.ok(slug.length <= rule.maxLength);
      assert.is(slugify(slug, rule), slug);
    }),
    { numRuns: fuzzRuns(500) },
  );
});

T('property: accents never change the slug of the unaccented name', () => {
  const accent = fc.constantFrom('\u0301', '\u0300', '\u0308', '\u0327', '\u030a');
  const word = fc.string({ unit: fc.constantFrom(...'abcdeouy XYZ'.split('')), minLength: 1, maxLength: 30 });
  fc.assert(
    fc.property(word, fc.array(accent, { maxLength: 30 }), (plain, accents) => {
      const accented = [...plain].map((c, i) => (/[A-Za-z]/.test(c) && accents[i] ? c + accents[i] : c)).join('');
      assert.is(slugify(accented.normalize('NFC'), PROJECT_ID_SLUG), slugify(plain, PROJECT_ID_SLUG));
    }),
    { numRuns: fuzzRuns(300) },
  );
});

T('property: every project id candidate is a valid id and distinct', () => {
  fc.assert(
    fc.property(names, (name) => {
      const candidates = projectIdCandidates(name);
      for (const id of [candidates[0]!, candidates[1]!, candidates.at(-1)!]) {
        assert.ok(ID_PATTERN.test(id), id);
        assert.ok(id.length <= MAX_ID_LENGTH);
      }
      assert.is(new Set(candidates).size, candidates.length);
    }),
    { numRuns: fuzzRuns(100) },
  );
});

T('a suffix keeps a long slug within its limit', () => {
  const long = 'a'.repeat(FILE_NAME_SLUG.maxLength);
  assert.is(withSuffix(long, 0, FILE_NAME_SLUG.maxLength), long);
  assert.is(withSuffix(long, 12, FILE_NAME_SLUG.maxLength), `${'a'.repeat(97)}-12`);
});

T.run();
