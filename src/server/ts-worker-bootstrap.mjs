// A worker started from the TypeScript sources: registers tsx in this thread, then loads the
// worker module named by the first argument. (Workers do not inherit the parent's loader hooks.)
import { register } from 'tsx/esm/api';

register();
await import(process.argv[2]);
