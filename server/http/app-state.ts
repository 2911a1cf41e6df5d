/** What every request carries in `ctx.state`. */
export interface AppState {
  /** the `X-Request-Id` of this request (the client's when well-formed, else a new uuid) */
  requestId: string;
}
