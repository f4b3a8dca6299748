import { type CenterClient, CenterRequestError } from './center-client.js';

/** `GET /v1/layers/<layer>`: a layer's document at its revision. */
export interface LayerResponse {
  layer: string;
  revision: number;
  document: Record<string, unknown>;
}

/** The layer's document and revision; a layer that does not exist yet is {} at revision 0. */
export async function readLayer(client: CenterClient, layer: string): Promise<LayerResponse> {
  try {
    return (await client.request<LayerResponse>('GET', `/v1/layers/${layer}`)).body;
  } catch (error) {
    if (error instanceof CenterRequestError && error.status === 404) return { layer, revision: 0, document: {} };
    throw error;
  }
}
