import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['__test__/**/*.test.ts'],
    setupFiles: ['__test__/helpers/setup.ts'],
    // Generous, for a cold two-core machine that is busy with something else: a timeout only
    // bounds a hang, no test measures time. Tests that need longer set their own.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
})
