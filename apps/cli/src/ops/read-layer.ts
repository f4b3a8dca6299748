import { type LayerResponse, layerResponseSchema } from '@celeriac/config-schema';
import { type CenterClient, CenterRequestError } from './center-client.js';

/** The layer's document and revision; a layer that does not exist yet is {} at revision 0. */
export async function readLayer(client: CenterClient, layer: string): Promise<LayerResponse> {
  try {
    return (await client.request('GET', `/v1/layers/${layer}`, { schema: layerResponseSchema })).body;
  } catch (error) {
    if (error instanceof CenterRequestError && error.status === 404) return { layer, revision: 0, document: {} };
    throw error;
  }
}
