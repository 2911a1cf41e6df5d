/**
 * The layout of a project, as docs/architecture.md ("Files of a project")
 * and the editor (EDITOR-FORMAT.md) spell it: this is the one place the
 * names are written out by hand, to check the module that everything else
 * uses.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { join } from 'node:path';
import {
  backupFileOf,
  folderOfPath,
  generationFileOf,
  globalFileOf,
  isQuarantineName,
  lockFileOf,
  mediaFileOf,
  pageFileOf,
  PROJECT_FILE,
  PROJECT_SUBDIRS,
  projectDirOf,
  quarantineFileOf,
  registryFileOf,
  servedFormOf,
  servedPathOf,
  servedPathsOf,
  THEME_FILE,
  uploadsDirOf,
} from '../../shared/project-paths.js';

const T = suite('project-paths');

const DATA = join('/', 'srv', 'data');

T('every file of a project where the editor keeps it', () => {
  const project = projectDirOf(DATA, 'bakery');
  assert.is(project, join(DATA, 'projects', 'bakery'));
  assert.is(registryFileOf(join(DATA, 'projects')), join(DATA, 'projects', 'projects.json'));
  assert.is(join(project, PROJECT_FILE), join(project, 'project.json'));
  assert.is(uploadsDirOf(DATA, 'bakery'), join(project, 'uploads'));
  const media = mediaFileOf(project);
  assert.is(media, join(project, 'uploads', 'media.json'));
  assert.is(backupFileOf(media), `${media}.bak`);
  assert.is(lockFileOf(media), `${media}.lock`);
  assert.is(generationFileOf(media), `${media}.gen`);
  assert.is(pageFileOf('home'), join('pages', 'home.json'));
  assert.is(globalFileOf('header'), join('pages', 'global', 'header.json'));
  assert.is(THEME_FILE, 'theme.json');
  assert.equal([...PROJECT_SUBDIRS].sort(), ['images', 'videos', 'audios', 'files'].map((f) => join('uploads', f)).concat(join('pages', 'global')).sort());
});

T('a record path is served under /uploads/<folder>/ and parses back; nothing else parses', () => {
  assert.is(servedPathOf('images', 'a.jpg'), '/uploads/images/a.jpg');
  assert.equal(folderOfPath('/uploads/images/a.jpg'), { folder: 'images', filename: 'a.jpg' });
  assert.equal(folderOfPath('uploads/videos/b.mp4'), { folder: 'videos', filename: 'b.mp4' });
  for (const bad of ['/uploads/secret/a.jpg', '/uploads/images/../a.jpg', '/uploads/images/.hidden', '/uploads/images/a/b.jpg', '/other/images/a.jpg']) {
    assert.is(folderOfPath(bad), undefined, bad);
  }
});

T('a record serves its own and its variants\' paths, each once, with the leading slash a legacy record lacks', () => {
  assert.is(servedFormOf('uploads/images/a.jpg'), '/uploads/images/a.jpg');
  assert.is(servedFormOf('/uploads/images/a.jpg'), '/uploads/images/a.jpg');
  const record = { path: 'uploads/images/a.jpg', sizes: { thumb: { path: '/uploads/images/a.thumb.jpg' }, dup: { path: '/uploads/images/a.jpg' } } };
  assert.equal(servedPathsOf(record), ['/uploads/images/a.jpg', '/uploads/images/a.thumb.jpg']);
});

T('a quarantined copy is named by time and pid, and recognised as one', () => {
  const media = mediaFileOf(projectDirOf(DATA, 'p'));
  const at = new Date('2026-01-02T03:04:05.678Z');
  const aside = quarantineFileOf(media, at, 4242);
  assert.is(aside, `${media}.corrupt-2026-01-02T03-04-05-678Z-4242`);
  const name = aside.slice(aside.lastIndexOf('media.json'));
  assert.ok(isQuarantineName(name, 'media.json'));
  assert.ok(isQuarantineName(name));
  assert.not.ok(isQuarantineName(name, 'projects.json'));
  assert.not.ok(isQuarantineName('media.json.bak'));
});

T.run();
