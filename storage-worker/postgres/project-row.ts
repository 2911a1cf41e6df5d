/**
 * A project's row: every operation of a project looks at it first. A write
 * locks it (`FOR UPDATE`), the one lock every writer of the project, in any
 * server, takes first and holds until its commit; a read only checks that
 * it is there. Either way a deleted project answers PROJECT_NOT_FOUND.
 */
import { StorageError } from '../../shared/errors.js';
import type { Queryable } from './database.js';

export async function requireProjectRow(q: Queryable, projectId: string, lock: 'lock' | 'no lock'): Promise<void> {
  const { rowCount } = await q.query(`SELECT 1 FROM projects WHERE id = $1${lock === 'lock' ? ' FOR UPDATE' : ''}`, [projectId]);
  if (!rowCount) throw new StorageError('PROJECT_NOT_FOUND', `no project with id ${projectId}`, { projectId });
}
