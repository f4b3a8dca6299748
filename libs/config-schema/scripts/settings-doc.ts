// Writes docs/settings.md from the settings status table: npx tsx libs/config-schema/scripts/settings-doc.ts
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderSettingsDoc } from '../src/settings-doc.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
writeFileSync(path.join(root, 'docs', 'settings.md'), renderSettingsDoc());
