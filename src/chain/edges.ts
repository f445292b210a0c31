import type { JsonObject, JsonValue } from '../json/parse.js';

/** One dependency of a task for its chain of trust, with the artifacts it consumes over it. */
export interface Edge {
  from: string;
  to: string;
  /** parent, input:<name>, upstream:<taskType>, dependency */
  role: string;
  paths: { path: string; optional: boolean }[];
}

export function obj(v: JsonValue | undefined): JsonObject | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/** Edges from a task to what it relies on: parent, upstream artifacts, inputs (docker images), dependencies. */
export function chainEdges(taskId: string, task: JsonObject, o: { followDependencies: boolean }): Edge[] {
  const edges: Edge[] = [];
  const add = (to: unknown, role: string, path?: { path: string; optional: boolean }) => {
    if (typeof to !== 'string' || to === taskId) return;
    let e = edges.find((x) => x.to === to && x.role === role);
    if (!e) {
      e = { from: taskId, to, role, paths: [] };
      edges.push(e);
    }
    if (path && !e.paths.some((p) => p.path === path.path)) e.paths.push(path);
  };
  const extra = obj(task.extra);
  add(typeof extra?.parent === 'string' ? extra.parent : task.taskGroupId, 'parent');
  for (const [name, id] of Object.entries(obj(obj(extra?.chainOfTrust)?.inputs) ?? {}))
    add(id, `input:${name}`);
  const image = obj(obj(task.payload)?.image);
  if (image?.type === 'task-image') add(image.taskId, 'input:docker-image');
  const ups = obj(task.payload)?.upstreamArtifacts;
  if (Array.isArray(ups)) {
    for (const u of ups) {
      const uo = obj(u);
      if (!uo) continue;
      const role = `upstream:${typeof uo.taskType === 'string' ? uo.taskType : 'artifacts'}`;
      const paths = Array.isArray(uo.paths) ? uo.paths : [];
      if (paths.length === 0) add(uo.taskId, role); // a declared upstream task is a link even with no paths
      for (const p of paths) {
        if (typeof p === 'string')
          add(uo.taskId, `upstream:${typeof uo.taskType === 'string' ? uo.taskType : 'artifacts'}`, {
            path: p,
            optional: uo.optional === true,
          });
      }
    }
  }
  if (o.followDependencies && Array.isArray(task.dependencies))
    for (const d of task.dependencies) add(d, 'dependency');
  return edges;
}
