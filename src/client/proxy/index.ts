/**
 * `cairn proxy`: a verifying view of an upstream index for unmodified pip and uv (DESIGN §6).
 */
export { VerifyingProxy, formatProxyEvent, DEFAULT_UPSTREAM_LIMITS } from './verifying-proxy.ts';
export type { HiddenFileRecord, ProxyDownload, ProxyEvent, ProxyFileEntry, ProxyFileStatus, ProxyOptions, ProxyProjectView, UpstreamLimits } from './verifying-proxy.ts';
export { renderProxyIndex, renderProxyProjectPage, simpleProjectOf, PROXY_JSON_KEY } from './proxy-pages.ts';
export { proxyViewJson } from './view-json.ts';
