#!/usr/bin/env node
// Build step after tsc: lint and precompile templates/*.hbs into dist/render/templates.compiled.cjs
// (see src/render/templates.ts). A template that breaks the lint rules fails the build.
import { writeFileSync } from "node:fs";
import { COMPILED_TEMPLATES, compiledTemplatesModule } from "../dist/render/templates.js";

writeFileSync(COMPILED_TEMPLATES, compiledTemplatesModule());
