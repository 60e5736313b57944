// A portal's calls, typed by the contract: tsc checks them against types openapi-typescript
// generated from openapi/openapi.json (into ./schema.d.ts beside a copy of this file).
import type { components, operations } from "./schema";

type Schemas = components["schemas"];
type Json<Op extends keyof operations, Status extends keyof operations[Op]["responses"]> =
  operations[Op]["responses"][Status] extends { content: { "application/json": infer Body } } ? Body : never;

async function call<Body>(base: string, token: string, path: string, init: RequestInit = {}): Promise<Body> {
  const response = await fetch(`${base}${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...init.headers },
  });
  if (!response.ok) throw new Error(`${response.status} ${await response.text()}`);
  return (await response.json()) as Body;
}

export async function integrate(base: string, token: string): Promise<string[]> {
  const project: Schemas["ProjectCreate"] = {
    key: "claims-triage",
    name: "Claims triage",
    costs: { build_cost: 120000.5, run_cost_per_month: 2500.25, currency: "EUR" },
  };
  const created = await call<Json<"create_project", 201>>(base, token, "/api/v1/projects", {
    method: "POST",
    body: JSON.stringify(project),
  });
  // Money comes back as the number it went in as, ready to send back.
  const replacement: Schemas["ProjectReplace"] = { name: created.name, costs: created.costs };
  await call<Json<"replace_project", 200>>(base, token, `/api/v1/projects/${created.key}`, {
    method: "PUT",
    body: JSON.stringify(replacement),
  });
  const patch: Schemas["ProjectPatch"] = { region: "EU", workflow: null };
  await call<Json<"update_project", 200>>(base, token, `/api/v1/projects/${created.key}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/merge-patch+json" },
    body: JSON.stringify(patch),
  });
  const sort: operations["portfolio_readiness"]["parameters"]["query"] = { sort: "-score", limit: 50 };
  const page = await call<Json<"portfolio_readiness", 200>>(base, token, `/api/v1/portfolio/readiness?sort=${sort?.sort}`);
  const levels: (Schemas["Level"] | null)[] = page.items.map((row) => row.level);
  return page.items.map((row) => `${row.key}: ${row.score ?? "unscored"} (${levels.length})`);
}
