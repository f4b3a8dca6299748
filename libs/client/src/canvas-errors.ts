import { CeleriacError } from './errors.js';

/** A canvas (group, chord, map, starmap, chunks, nested signature) that cannot be laid out or sent. */
export class CanvasError extends CeleriacError {
  static override readonly codes = ['CLIENT_CANVAS_INVALID'] as const;

  constructor(message: string, options?: { cause?: unknown }) {
    super('CLIENT_CANVAS_INVALID', message, options);
  }
}
