/** Project routes: create, list, get, delete. */
import { z } from 'zod';
import type { AppDeps, AppRouter } from '../http/app-deps.js';
import { ID_PATTERN, requireId } from '../http/id-params.js';
import { readJsonBody } from '../http/json-body.js';
import { validateBody } from '../http/validate-body.js';

const CreateProject = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
  id: z.string().regex(ID_PATTERN, 'must be 1–64 letters, digits, "-" or "_"').optional(),
});

export function projectRoutes(router: AppRouter, { storage, config }: AppDeps): void {
  router.post('/api/projects', async (ctx) => {
    const input = validateBody(CreateProject, await readJsonBody(ctx, config.jsonBodyLimit));
    const project = await storage.createProject(input.id === undefined ? { name: input.name } : { name: input.name, id: input.id });
    ctx.status = 201;
    ctx.set('Location', `/api/projects/${project.id}`);
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
    await storage.deleteProject(projectId);
    ctx.body = { success: true, message: `Project ${projectId} deleted` };
  });
}
