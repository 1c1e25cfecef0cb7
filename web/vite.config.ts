// `npm run build` writes the page to dist/, which the agent serves at `/`.
// `npm run dev` serves it with hot reload and sends API calls to an agent on :8080.
import { defineConfig } from "vite";

const agent = process.env.VULCAN_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1000 },
  server: {
    proxy: Object.fromEntries(["/v1", "/openapi.json", "/metrics"].map((p) => [p, agent])),
  },
});
