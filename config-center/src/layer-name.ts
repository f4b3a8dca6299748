import { isValidName, LAYER_NAME_RULE, parseLayerName } from '@celeriac/config-schema';
import { CenterError } from './errors.js';

/** Checks a layer name from a URL (`defaults`, `groups/<g>`, `nodes/<n>`), or throws a 400. */
export function assertLayerName(layer: string): string {
  if (parseLayerName(layer) === null) {
    throw new CenterError('CENTER_BAD_REQUEST', `"${layer.slice(0, 80)}" is not a layer name; ${LAYER_NAME_RULE}`);
  }
  return layer;
}

/** Checks a node name from a URL, or throws a 400. */
export function assertNodeName(node: string): string {
  if (!isValidName(node)) {
    throw new CenterError(
      'CENTER_BAD_REQUEST',
      `"${node.slice(0, 80)}" is not a node name; use 1 to 63 characters of a-z, 0-9, "_", "." and "-", starting with a letter or digit, without ".."`,
    );
  }
  return node;
}
