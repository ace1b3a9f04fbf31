// Types for bin/runtime.mjs (plain JavaScript, loaded before any TypeScript).
export declare const ROOT: string;
export declare const MINIMUM_NODE: readonly [number, number, number];
export declare function isSupportedNode(version?: string): boolean;
export declare function pinnedNode(root?: string): string | null;
export declare function rerunUnderPinnedNode(script: string, args: string[]): Promise<number> | null;
export declare function unsupportedNodeMessage(): string;
export declare function newestSourceMtimeMs(root?: string): number;
export declare function compiledState(root?: string): { current: boolean; sources: boolean; reason: string };
export declare function writeBuildInfo(dist: string, sourceMtimeMs: number): void;
