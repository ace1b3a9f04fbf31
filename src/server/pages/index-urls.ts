export interface IndexUrls {
  fileUrl(sha256: string, filename: string): string;
  provenanceUrl(project: string, version: string, filename: string): string;
}

/** Root-relative URLs, or absolute ones under a configured public base URL. */
export function indexUrls(baseUrl: string | null): IndexUrls {
  const base = baseUrl ?? '';
  return {
    fileUrl: (sha256, filename) => `${base}/files/${sha256}/${encodeURIComponent(filename)}`,
    provenanceUrl: (project, version, filename) =>
      `${base}/integrity/${encodeURIComponent(project)}/${encodeURIComponent(version)}/${encodeURIComponent(filename)}/provenance`,
  };
}
