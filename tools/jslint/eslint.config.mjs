// ESLint for the staff and board pages (vaxflow/screens/web/*.js), run by `./dev test`:
// the recommended rules, browser globals, ES modules (the pages load them as type="module").
import js from "@eslint/js";
import globals from "globals";

export default [
  js.configs.recommended,
  {
    files: ["**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser },
    },
    rules: {
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],
    },
  },
];
