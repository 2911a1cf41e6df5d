/** Project routes: create, list, get, delete. */
import { z } from 'zod';
import { projectDirOf } from '../../shared/project-paths.js';
import { directoryBlobStore } from '../blob-store/directory-blob-store.js';
import type { AppRouter, RouteDeps } from '../http/app-deps.js';
import { requireId } from '../http/id-params.js';
import { readJsonBody } from '../http/json-body.js';
import { validateBody } from '../http/validate-body.js';
import { reportRemoval } from '../upload/remove-binaries.js';

const CreateProject = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  id: z.string().optional(),
});

export function projectRoutes(router: AppRouter, deps: RouteDeps): void {
  const { storage, config } = deps;
  router.post('/api/projects', async (ctx) => {
    const input = validateBody(CreateProject, await readJsonBody(ctx, config.jsonBodyLimit));
    // An id, like every id, is checked against its pattern (INVALID_ID); absent, the storage derives one from the name.
    const project = await storage.createProject(input.id === undefined ? { name: input.name } : { name: input.name, id: requireId(input.id, 'id') });
    ctx.status = 201;
    // Relative to where this route was reached: the API may be mounted under a prefix.
    ctx.set('Location', `${ctx.state.mountPath ?? ''}${ctx.path.replace(/\/$/, '')}/${project.id}`);
    ctx.body = project;
  });

  router.get('/api/projects', async (ctx) => {
    ctx.body = { projects: await storage.listProjects() };
  });

  router.get('/api/projects/:projectId', async (ctx) => {
    ctx.body = await storage.getProject(requireId(ctx.params.projectId, 'projectId'));
  });

  router.delete('/api/projects/:projectId', async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    if (deps.uploadNameClaim === 'storage-record') {
      // A database backend keeps the libraries apart from the binaries: its delete removes rows only.
      // The folder goes after the delete commits, never before (an acknowledged record must never
      // point at missing bytes). Killed in between: the folder stays, a project folder without a
      // project, which the doctor reports and removes (--fix, once older than its safety age).
      const { folder } = await storage.getProject(projectId);
      await storage.deleteProject(projectId);
      const failures = await (deps.blobs ?? directoryBlobStore).removeProjectFolder(projectDirOf(deps.dataDir, folder));
      reportRemoval(deps.logger, ctx.state.requestId, failures);
    } else {
      await storage.deleteProject(projectId); // the file backend removes the whole folder itself
    }
    ctx.body = { success: true, message: `Project ${projectId} deleted` };
  });
}
