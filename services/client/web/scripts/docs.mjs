// Builds dist/docs/: Swagger UI (npm swagger-ui-dist, only the files it
// needs) and openapi.json, the generated specs of the public services
// (pkg/gen/openapiv2, queue excluded: Kafka messages are not an HTTP API)
// merged into one, with the bearer token as a security scheme. The output
// depends only on its inputs, so rebuilding is byte-identical.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, "..");
const out = join(web, "dist", "docs");
const specs = join(web, "..", "..", "..", "pkg", "gen", "openapiv2", "jobplane");
const swagger = join(web, "node_modules", "swagger-ui-dist");

mkdirSync(out, { recursive: true });
for (const f of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"]) copyFileSync(join(swagger, f), join(out, f));
for (const f of ["index.html", "init.js"]) copyFileSync(join(web, "docs", f), join(out, f));

const merged = {
  swagger: "2.0",
  info: { title: "jobplane API", version: "v1", description: "The REST API of the client service (grpc-gateway). Every call needs `Authorization: Bearer <token>`: use Authorize." },
  tags: [], consumes: ["application/json"], produces: ["application/json"],
  securityDefinitions: { bearer: { type: "apiKey", name: "Authorization", in: "header", description: "`Bearer <token>`" } },
  security: [{ bearer: [] }],
  paths: {}, definitions: {},
};
for (const svc of readdirSync(specs).sort()) {
  if (svc === "queue") continue;
  for (const file of readdirSync(join(specs, svc, "v1")).filter((f) => f.endsWith(".swagger.json")).sort()) {
    const s = JSON.parse(readFileSync(join(specs, svc, "v1", file), "utf8"));
    merged.tags.push(...(s.tags ?? []));
    Object.assign(merged.paths, s.paths ?? {});
    Object.assign(merged.definitions, s.definitions ?? {});
  }
}
writeFileSync(join(out, "openapi.json"), JSON.stringify(merged, null, 1) + "\n");
console.log(`dist/docs: swagger-ui + openapi.json (${Object.keys(merged.paths).length} paths)`);
