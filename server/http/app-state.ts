/** What every request carries in `ctx.state`. */
export interface AppState {
  /** the `X-Request-Id` of this request (the client's when well-formed, else a new uuid) */
  requestId: string;
  /**
   * The path an outer framework mounted the API under and removed from the
   * URL before Koa saw it (Express's `req.baseUrl`; set by toExpress), so
   * links the API answers with (`Location`) point where the client called.
   */
  mountPath?: string;
}
