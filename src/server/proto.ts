import path from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

import type { ProtoGrpcType } from '../generated/api.js';
import { REPO_ROOT } from '../version.js';

export const PROTO_FILE = path.join(REPO_ROOT, 'api', 'cri', 'api.proto');

/** Must match the flags of `npm run gen` so the generated types describe what we get. */
export const LOADER_OPTIONS: protoLoader.Options = {
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

let cached: ProtoGrpcType | undefined;

/** The runtime.v1 package: service definitions and message types. */
export function loadCriProto(): ProtoGrpcType {
  cached ??= grpc.loadPackageDefinition(protoLoader.loadSync(PROTO_FILE, LOADER_OPTIONS)) as unknown as ProtoGrpcType;
  return cached;
}
