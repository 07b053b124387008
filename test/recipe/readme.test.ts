import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The README's test-mode recipe is a test that runs (./client.test.ts): this keeps the two the same, character for
// character, so what users copy is what CI ran.

const root = resolve(import.meta.dirname, '../..');

describe('README recipe', () => {
  it('is test/recipe/client.test.ts, word for word', () => {
    const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
    const block = /<!-- recipe: test\/recipe\/client\.test\.ts[^\n]*-->\n```ts\n([\s\S]*?)```\n/.exec(readme);
    expect(block, 'README.md has no recipe block').not.toBeNull();
    expect(block?.[1]).toBe(readFileSync(resolve(root, 'test/recipe/client.test.ts'), 'utf8'));
  });
});
