/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/__tests__", "<rootDir>/lambda-src/functions"],
  testPathIgnorePatterns: ["/node_modules/"],
  testMatch: ["**/*.test.ts"],
  transform: { "^.+\\.ts$": ["@swc/jest", { jsc: { target: "es2022" } }] },
  setupFilesAfterEnv: ["<rootDir>/__tests__/setup.js"],
  testTimeout: 30000,
  // The end-to-end files spend most of their time waiting on the engine and moto: two at once, even on 2 cores.
  maxWorkers: 2,
};
