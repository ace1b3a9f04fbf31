import type { Rule } from 'eslint';

export const LAYERS: { name: string; path: string; imports: string[] }[];
export const layersRule: Rule.RuleModule;
declare const plugin: { rules: { layers: Rule.RuleModule } };
export default plugin;
