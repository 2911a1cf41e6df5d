import { randomUUID } from 'node:crypto';
import type { NewMediaRecord } from '../../shared/media-types.js';

/** Realistic image records (with size variants) named img-<i>.jpg, as an upload would add them. */
export function makeImageRecords(count: number, prefix = 'img'): NewMediaRecord[] {
  return Array.from({ length: count }, (_, i): NewMediaRecord => {
    const name = `${prefix}-${i}`;
    const sizes: NewMediaRecord['sizes'] = {};
    for (const [label, width] of [['thumb', 150], ['small', 480], ['medium', 1024]] as const) {
      sizes[label] = { path: `/uploads/images/${name}-${label}.jpg`, filename: `${name}-${label}.jpg`, width, height: Math.round(width * 0.66), size: width * 40 };
    }
    return {
      id: randomUUID(),
      filename: `${name}.jpg`,
      originalName: `${name}.JPG`,
      type: 'image/jpeg',
      size: 123_456,
      uploaded: new Date().toISOString(),
      path: `/uploads/images/${name}.jpg`,
      metadata: { alt: '', title: name },
      width: 2000,
      height: 1320,
      sizes,
    };
  });
}
