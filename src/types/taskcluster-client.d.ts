// taskcluster-client ships no type declarations; cot uses it through src/transport/taskcluster.ts only.
declare module 'taskcluster-client';
