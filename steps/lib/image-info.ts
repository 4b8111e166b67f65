import type { UserLookup } from './image-passwd.ts';

// `image.json`: what `resolve` read from the registry about an image, by digest, and what `policy`
// checks (the template passes it from one step to the next as the output `image-info`).

/** One runnable image of a (possibly multi-platform) reference. */
export interface PlatformImage {
  /** `linux/amd64`, or `default` for a single-platform image. */
  platform: string;
  digest: string;
  /** Config + layers as the manifest declares them (what a node pulls). */
  compressedSize: number;
  /** The image config's User (empty when unset, which means root). */
  user: string;
  /** For a named USER: its UID in the image's own /etc/passwd, or why there is none. */
  userLookup?: UserLookup;
}

export interface ResolvedImage {
  /** The reference as it was asked for (may carry a tag). */
  requested: string;
  repository: string;
  digest: string;
  /** `repository@digest`: the only form used after resolution. */
  reference: string;
  mediaType: string;
  index: boolean;
  platforms: PlatformImage[];
}
