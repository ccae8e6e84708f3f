import type { BlobStore } from './blob-store.js';
import { createFilesystemStore } from './filesystem-store.js';
import { createS3Store, type S3StoreOptions } from './s3-store.js';

export type { BlobStat, BlobStore, ByteRange, PutOptions, StoredBlob } from './blob-store.js';
export { BlobNotFoundError, BlobSizeMismatchError, BlobTooLargeError, InvalidBlobKeyError, InvalidBlobRangeError } from './errors.js';
export { HashingTransform, StreamMeter, createHashingStream } from './hashing.js';
export { MAX_KEY_LENGTH, MAX_SEGMENT_LENGTH, assertValidKey } from './keys.js';
export { createFilesystemStore, type FilesystemBlobStore, type FilesystemStoreOptions } from './filesystem-store.js';
export { DEFAULT_PART_SIZE, MIN_PART_SIZE, createS3Store, type S3StoreOptions } from './s3-store.js';

/** Shaped so `Config['storage']` can be passed straight in. */
export type BlobStoreOptions = { driver: 'filesystem'; root: string } | ({ driver: 's3' } & S3StoreOptions);

export async function createBlobStore(options: BlobStoreOptions): Promise<BlobStore> {
  switch (options.driver) {
    case 'filesystem':
      return createFilesystemStore({ root: options.root });
    case 's3': {
      const { driver: _driver, ...s3 } = options;
      return createS3Store(s3);
    }
  }
}
