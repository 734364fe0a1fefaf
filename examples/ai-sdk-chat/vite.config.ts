import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  // 5174: beside the React example (5173), so both can run at once.
  server: { port: 5174, strictPort: true },
  build: {
    rollupOptions: {
      onwarn(warning, warn) {
        // zod (the AI SDK's schemas) has comments Rollup cannot read as annotations; it drops them, nothing else.
        if (warning.code === "INVALID_ANNOTATION" && warning.id?.includes("/node_modules/zod/")) return;
        warn(warning);
      },
    },
  },
});
