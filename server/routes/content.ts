/**
 * Content sources and their media usage: pages, the header/footer global
 * widgets and the theme settings. Each save writes the source's JSON and sets
 * its usage in one storage operation, so autosave's parallel page + header +
 * footer saves cannot lose each other's usage.
 */
import { z } from 'zod';
import type { ParameterizedContext } from 'koa';
import { StorageError } from '../../shared/errors.js';
import { THEME_SOURCE, globalSource } from '../../shared/media-types.js';
import type { AppRouter, RouteDeps } from '../http/app-deps.js';
import { requireId, requireWidgetType } from '../http/id-params.js';
import { readJsonBody } from '../http/json-body.js';
import { validateBody } from '../http/validate-body.js';

/** A content document is a JSON object (the editor's page, widget or theme JSON). */
const ContentBody = z.record(z.string(), z.unknown());

/**
 * The body as parsed, once the schema says it is an object. Not zod's
 * output: zod builds a new object by assigning each key, and assigning an
 * own `__proto__` key (valid JSON, kept by JSON.parse) sets the prototype
 * instead — the key would be dropped from the saved document.
 */
async function contentBody(ctx: ParameterizedContext, limit: number): Promise<Record<string, unknown>> {
  const body = await readJsonBody(ctx, limit);
  validateBody(ContentBody, body);
  return body as Record<string, unknown>;
}

export function contentRoutes(router: AppRouter, { storage, config }: RouteDeps): void {
  const project = '/api/projects/:projectId';

  router.post(`${project}/pages/:pageId/content`, async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    const pageId = requireId(ctx.params.pageId, 'pageId');
    const content = await contentBody(ctx, config.jsonBodyLimit);
    const saved = await storage.saveContent(projectId, pageId, content);
    ctx.body = { success: true, mediaPaths: saved.mediaPaths, fileIds: saved.fileIds };
  });

  router.get(`${project}/pages`, async (ctx) => {
    ctx.body = { pages: await storage.listPages(requireId(ctx.params.projectId, 'projectId')) };
  });

  router.get(`${project}/pages/:pageId`, async (ctx) => {
    ctx.body = await storage.readContent(requireId(ctx.params.projectId, 'projectId'), requireId(ctx.params.pageId, 'pageId'));
  });

  router.delete(`${project}/pages/:pageId`, async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    const pageId = requireId(ctx.params.pageId, 'pageId');
    await storage.deleteContent(projectId, pageId);
    ctx.body = { success: true, message: `Page ${pageId} deleted` };
  });

  router.post(`${project}/global-widgets/:type`, async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    const source = globalSource(requireWidgetType(ctx.params.type));
    const content = await contentBody(ctx, config.jsonBodyLimit);
    const saved = await storage.saveContent(projectId, source, content);
    ctx.body = { success: true, source, mediaPaths: saved.mediaPaths, fileIds: saved.fileIds };
  });

  router.get(`${project}/global-widgets/:type`, async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    ctx.body = await storage.readContent(projectId, globalSource(requireWidgetType(ctx.params.type)));
  });

  router.get(`${project}/theme-settings`, async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    try {
      ctx.body = await storage.readContent(projectId, THEME_SOURCE);
    } catch (err) {
      // A project whose theme was never saved has the default (empty) theme;
      // an unknown project is still a 404 (PROJECT_NOT_FOUND passes through).
      if (!(err instanceof StorageError && err.code === 'PAGE_NOT_FOUND')) throw err;
      ctx.body = {};
    }
  });

  router.put(`${project}/theme-settings`, async (ctx) => {
    const projectId = requireId(ctx.params.projectId, 'projectId');
    const content = await contentBody(ctx, config.jsonBodyLimit);
    const saved = await storage.saveContent(projectId, THEME_SOURCE, content);
    ctx.body = { success: true, source: THEME_SOURCE, mediaPaths: saved.mediaPaths, fileIds: saved.fileIds };
  });
}
