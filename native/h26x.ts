// H.264 and H.265 bitstream facts the MP4 writer needs: NAL unit types, keyframes, the picture size
// from the SPS, and the decoder configuration records (avcC, hvcC) of ISO/IEC 14496-15.
//
// Parameter sets come from cameras, so they are untrusted: the RBSP is read through a bit reader that
// checks every read against the end, every count that drives a loop has its range checked before the
// loop, and a picture larger than MAX_PICTURE_SIDE is refused. Anything that does not fit throws an
// `H26xError` with a stable `code`.
//
// Pure code (no Node built-ins).

import type { VideoCodec } from './access-unit.ts';

export type H26xErrorCode =
  /** A NAL unit that is empty, shorter than its header, or has forbidden_zero_bit set. */
  | 'bad-nal'
  /** An SPS that cannot be read (truncated, a value out of its range) or gives an absurd picture size. */
  | 'bad-sps'
  /** A VPS or PPS that cannot be read, or a parameter set too long for a configuration record. */
  | 'bad-parameter-set'
  /** Valid input outside what is handled here (an unknown codec, an H.265 SPS of a layer above 0). */
  | 'unsupported'
  /** A configuration record was asked for without one of each parameter set it needs. */
  | 'missing-parameter-sets'
  /** An access unit with no NAL units, or with nothing but access unit delimiters. */
  | 'empty-access-unit'
  /** An access unit larger than the writer's `maxFrameBytes`. */
  | 'frame-too-large'
  /** An access unit's time is not a safe integer. */
  | 'bad-time'
  /** The writer's options are out of range or contradict each other. */
  | 'bad-options';

export class H26xError extends Error {
  override readonly name = 'H26xError';
  readonly code: H26xErrorCode;
  constructor(code: H26xErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.code = code;
  }
}

/**
 * Largest width or height accepted. H.264 level 6.2 and H.265 level 6.2 stop at 8192 wide; twice that
 * leaves room for any real camera while keeping a hostile SPS from declaring a 4-billion-pixel picture.
 */
export const MAX_PICTURE_SIDE = 16384;

/** A configuration record stores each parameter set's length in 16 bits. */
export const MAX_PARAMETER_SET_BYTES = 0xffff;

export const H264_NAL = { slice: 1, idr: 5, sei: 6, sps: 7, pps: 8, aud: 9 } as const;
export const H265_NAL = { vps: 32, sps: 33, pps: 34, aud: 35, irapFirst: 16, irapLast: 21 } as const;

// ---------------------------------------------------------------------------------------------
// NAL unit headers

/** nal_unit_type; throws 'bad-nal' for a NAL too short for its header or with forbidden_zero_bit set. */
export function nalType(codec: VideoCodec, nal: Uint8Array): number {
  const headerBytes = codec === 'h264' ? 1 : codec === 'h265' ? 2 : unknownCodec(codec);
  if (nal.length < headerBytes) {
    throw new H26xError('bad-nal', `${codec} NAL of ${nal.length} bytes, shorter than its ${headerBytes}-byte header`);
  }
  const b0 = nal[0]!;
  if (b0 & 0x80) throw new H26xError('bad-nal', `${codec} NAL with forbidden_zero_bit set (first byte 0x${hex2(b0)})`);
  return codec === 'h264' ? b0 & 0x1f : (b0 >> 1) & 0x3f;
}

/** nuh_layer_id of an H.265 NAL (0 for H.264, which has no layers here). */
export function nalLayerId(codec: VideoCodec, nal: Uint8Array): number {
  nalType(codec, nal);
  return codec === 'h265' ? ((nal[0]! & 1) << 5) | (nal[1]! >> 3) : 0;
}

/** Type of a parameter set by NAL type (H.264 SPS/PPS, H.265 VPS/SPS/PPS), else undefined. */
export function parameterSetKind(codec: VideoCodec, type: number): 'vps' | 'sps' | 'pps' | undefined {
  if (codec === 'h264') return type === H264_NAL.sps ? 'sps' : type === H264_NAL.pps ? 'pps' : undefined;
  return type === H265_NAL.vps ? 'vps' : type === H265_NAL.sps ? 'sps' : type === H265_NAL.pps ? 'pps' : undefined;
}

export function isParameterSet(codec: VideoCodec, nal: Uint8Array): boolean {
  return parameterSetKind(codec, nalType(codec, nal)) !== undefined;
}

export function isAccessUnitDelimiter(codec: VideoCodec, nal: Uint8Array): boolean {
  return nalType(codec, nal) === (codec === 'h264' ? H264_NAL.aud : H265_NAL.aud);
}

/** A NAL type that carries coded picture data (H.264 1..5; H.265 0..31, reserved types included). */
export function isVclType(codec: VideoCodec, type: number): boolean {
  return codec === 'h264' ? type >= 1 && type <= 5 : type <= 31;
}

/** True for a NAL type a decoder can start at: H.264 IDR, H.265 IRAP (BLA, IDR, CRA). */
export function isKeyframeType(codec: VideoCodec, type: number): boolean {
  return codec === 'h264' ? type === H264_NAL.idr : type >= H265_NAL.irapFirst && type <= H265_NAL.irapLast;
}

/** An access unit a decoder can start at: any of its NALs is an H.264 IDR or H.265 IRAP slice. */
export function isKeyframe(codec: VideoCodec, nals: readonly Uint8Array[]): boolean {
  // Every header is checked, not just those up to the first keyframe slice: a broken NAL anywhere
  // in the access unit is reported the same way whatever its neighbours.
  let keyframe = false;
  for (const nal of nals) if (isKeyframeType(codec, nalType(codec, nal))) keyframe = true;
  return keyframe;
}

// ---------------------------------------------------------------------------------------------
// RBSP and exp-Golomb

/**
 * The RBSP of a NAL: its bytes after the header with emulation-prevention bytes (the 03 of 00 00 03)
 * removed, so that exp-Golomb codes read across them.
 */
export function unescapeRbsp(nal: Uint8Array, headerBytes: number): Uint8Array {
  const out = new Uint8Array(Math.max(0, nal.length - headerBytes));
  let n = 0;
  let zeros = 0;
  for (let i = headerBytes; i < nal.length; i++) {
    const b = nal[i]!;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    zeros = b === 0 ? zeros + 1 : 0;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

class BitReader {
  private bit = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly code: 'bad-sps' | 'bad-parameter-set',
    private readonly what: string,
  ) {}

  fail(message: string): never {
    throw new H26xError(this.code, `${this.what}: ${message}`);
  }

  u1(field: string): number {
    const byte = this.bit >>> 3;
    if (byte >= this.bytes.length) this.fail(`truncated at ${field}`);
    const v = (this.bytes[byte]! >> (7 - (this.bit & 7))) & 1;
    this.bit++;
    return v;
  }

  /** n <= 32 bits, big-endian, as a non-negative number. */
  u(n: number, field: string): number {
    let v = 0;
    for (let i = 0; i < n; i++) v = v * 2 + this.u1(field);
    return v;
  }

  skip(n: number, field: string): void {
    if (this.bit + n > this.bytes.length * 8) this.fail(`truncated at ${field}`);
    this.bit += n;
  }

  /** ue(v). More than 31 leading zeros would not fit 32 bits: no valid field needs it. */
  ue(field: string, max = 0xffff_fffe): number {
    let zeros = 0;
    while (this.u1(field) === 0) {
      if (++zeros > 31) this.fail(`${field}: exp-Golomb code longer than 32 bits`);
    }
    const v = 2 ** zeros - 1 + this.u(zeros, field);
    if (v > max) this.fail(`${field} = ${v}, at most ${max}`);
    return v;
  }

  se(field: string): number {
    const k = this.ue(field);
    return k & 1 ? (k + 1) / 2 : -(k / 2);
  }
}

// ---------------------------------------------------------------------------------------------
// H.264 SPS (ITU-T H.264 7.3.2.1.1)

export interface H264Sps {
  spsId: number;
  profileIdc: number;
  /** constraint_set0..5 flags and reserved bits, the byte between profile_idc and level_idc. */
  constraintFlags: number;
  levelIdc: number;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  frameMbsOnly: boolean;
  /** Displayed size: coded macroblocks minus the cropping rectangle. */
  width: number;
  height: number;
}

/** Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices. */
const H264_HIGH_PROFILES = new Set([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135]);

export function parseH264Sps(nal: Uint8Array): H264Sps {
  if (nalType('h264', nal) !== H264_NAL.sps) throw new H26xError('bad-sps', `NAL type ${nalType('h264', nal)} is not an SPS`);
  const r = new BitReader(unescapeRbsp(nal, 1), 'bad-sps', 'H.264 SPS');
  const profileIdc = r.u(8, 'profile_idc');
  const constraintFlags = r.u(8, 'constraint flags');
  const levelIdc = r.u(8, 'level_idc');
  const spsId = r.ue('seq_parameter_set_id', 31);
  let chromaFormatIdc = 1;
  let separateColourPlane = false;
  let bitDepthLuma = 8;
  let bitDepthChroma = 8;
  if (H264_HIGH_PROFILES.has(profileIdc)) {
    chromaFormatIdc = r.ue('chroma_format_idc', 3);
    if (chromaFormatIdc === 3) separateColourPlane = r.u1('separate_colour_plane_flag') === 1;
    bitDepthLuma = 8 + r.ue('bit_depth_luma_minus8', 6);
    bitDepthChroma = 8 + r.ue('bit_depth_chroma_minus8', 6);
    r.u1('qpprime_y_zero_transform_bypass_flag');
    if (r.u1('seq_scaling_matrix_present_flag')) {
      const lists = chromaFormatIdc === 3 ? 12 : 8;
      for (let i = 0; i < lists; i++) {
        if (r.u1('seq_scaling_list_present_flag')) skipScalingList(r, i < 6 ? 16 : 64);
      }
    }
  }
  r.ue('log2_max_frame_num_minus4', 12);
  const pocType = r.ue('pic_order_cnt_type', 2);
  if (pocType === 0) {
    r.ue('log2_max_pic_order_cnt_lsb_minus4', 12);
  } else if (pocType === 1) {
    r.u1('delta_pic_order_always_zero_flag');
    r.se('offset_for_non_ref_pic');
    r.se('offset_for_top_to_bottom_field');
    const cycle = r.ue('num_ref_frames_in_pic_order_cnt_cycle', 255);
    for (let i = 0; i < cycle; i++) r.se('offset_for_ref_frame');
  }
  r.ue('max_num_ref_frames');
  r.u1('gaps_in_frame_num_value_allowed_flag');
  const widthMbs = r.ue('pic_width_in_mbs_minus1') + 1;
  const heightMapUnits = r.ue('pic_height_in_map_units_minus1') + 1;
  const frameMbsOnly = r.u1('frame_mbs_only_flag') === 1;
  if (!frameMbsOnly) r.u1('mb_adaptive_frame_field_flag');
  r.u1('direct_8x8_inference_flag');
  let crop = { left: 0, right: 0, top: 0, bottom: 0 };
  if (r.u1('frame_cropping_flag')) {
    crop = {
      left: r.ue('frame_crop_left_offset'),
      right: r.ue('frame_crop_right_offset'),
      top: r.ue('frame_crop_top_offset'),
      bottom: r.ue('frame_crop_bottom_offset'),
    };
  }
  // Cropping is counted in chroma samples (and in field pairs when pictures may be fields): 7.4.2.1.1.
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
  const subHeightC = chromaArrayType === 1 ? 2 : 1;
  const fieldFactor = frameMbsOnly ? 1 : 2;
  const cropUnitX = chromaArrayType === 0 ? 1 : subWidthC;
  const cropUnitY = (chromaArrayType === 0 ? 1 : subHeightC) * fieldFactor;
  const codedWidth = widthMbs * 16;
  const codedHeight = heightMapUnits * 16 * fieldFactor;
  const size = croppedSize(r, codedWidth, codedHeight, cropUnitX * (crop.left + crop.right), cropUnitY * (crop.top + crop.bottom));
  return { spsId, profileIdc, constraintFlags, levelIdc, chromaFormatIdc, bitDepthLuma, bitDepthChroma, frameMbsOnly, ...size };
}

/** scaling_list() of 7.3.2.1.1.1: only its length matters here. */
function skipScalingList(r: BitReader, size: number): void {
  let last = 8;
  let next = 8;
  for (let j = 0; j < size; j++) {
    if (next !== 0) {
      const delta = r.se('delta_scale');
      if (delta < -128 || delta > 127) r.fail(`delta_scale = ${delta}, outside -128..127`);
      next = (last + delta + 256) % 256;
    }
    if (next !== 0) last = next;
  }
}

function croppedSize(r: BitReader, codedWidth: number, codedHeight: number, cropX: number, cropY: number): { width: number; height: number } {
  if (codedWidth > MAX_PICTURE_SIDE || codedHeight > MAX_PICTURE_SIDE) {
    r.fail(`coded picture ${codedWidth}x${codedHeight}, larger than ${MAX_PICTURE_SIDE} on a side`);
  }
  const width = codedWidth - cropX;
  const height = codedHeight - cropY;
  if (width < 1 || height < 1) r.fail(`cropping (${cropX}, ${cropY}) leaves nothing of the ${codedWidth}x${codedHeight} picture`);
  return { width, height };
}

// ---------------------------------------------------------------------------------------------
// H.265 SPS (ITU-T H.265 7.3.2.2.1 and 7.3.3)

/** general_* fields of profile_tier_level, as hvcC and the RFC 6381 codec string carry them. */
export interface H265ProfileTierLevel {
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  /** general_profile_compatibility_flag[0..31], flag 0 in the most significant bit. */
  compatibilityFlags: number;
  /** The 48 bits from general_progressive_source_flag to general_inbld_flag / reserved bit. */
  constraintFlags: Uint8Array;
  levelIdc: number;
}

export interface H265Sps {
  vpsId: number;
  spsId: number;
  /** sps_max_sub_layers_minus1 + 1. */
  maxSubLayers: number;
  temporalIdNesting: boolean;
  profileTierLevel: H265ProfileTierLevel;
  chromaFormatIdc: number;
  bitDepthLuma: number;
  bitDepthChroma: number;
  /** Displayed size: pic_width/height_in_luma_samples minus the conformance window. */
  width: number;
  height: number;
}

export function parseH265Sps(nal: Uint8Array): H265Sps {
  const type = nalType('h265', nal);
  if (type !== H265_NAL.sps) throw new H26xError('bad-sps', `NAL type ${type} is not an SPS`);
  // Layers above 0 (scalable and multiview HEVC) use another SPS syntax; a camera sends layer 0 only.
  const layer = nalLayerId('h265', nal);
  if (layer !== 0) throw new H26xError('unsupported', `H.265 SPS of layer ${layer}: only the base layer is read`);
  const r = new BitReader(unescapeRbsp(nal, 2), 'bad-sps', 'H.265 SPS');
  const vpsId = r.u(4, 'sps_video_parameter_set_id');
  const maxSubLayersMinus1 = r.u(3, 'sps_max_sub_layers_minus1');
  if (maxSubLayersMinus1 > 6) r.fail(`sps_max_sub_layers_minus1 = ${maxSubLayersMinus1}, at most 6`);
  const temporalIdNesting = r.u1('sps_temporal_id_nesting_flag') === 1;
  const profileTierLevel = readProfileTierLevel(r, maxSubLayersMinus1);
  const spsId = r.ue('sps_seq_parameter_set_id', 15);
  const chromaFormatIdc = r.ue('chroma_format_idc', 3);
  const separateColourPlane = chromaFormatIdc === 3 && r.u1('separate_colour_plane_flag') === 1;
  const codedWidth = r.ue('pic_width_in_luma_samples');
  const codedHeight = r.ue('pic_height_in_luma_samples');
  let cropX = 0;
  let cropY = 0;
  // The conformance window is counted in chroma samples (Table 6-1).
  const chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
  const subWidthC = chromaArrayType === 1 || chromaArrayType === 2 ? 2 : 1;
  const subHeightC = chromaArrayType === 1 ? 2 : 1;
  if (r.u1('conformance_window_flag')) {
    cropX = subWidthC * (r.ue('conf_win_left_offset') + r.ue('conf_win_right_offset'));
    cropY = subHeightC * (r.ue('conf_win_top_offset') + r.ue('conf_win_bottom_offset'));
  }
  const bitDepthLuma = 8 + r.ue('bit_depth_luma_minus8', 8);
  const bitDepthChroma = 8 + r.ue('bit_depth_chroma_minus8', 8);
  if (codedWidth === 0 || codedHeight === 0) r.fail(`coded picture ${codedWidth}x${codedHeight}`);
  const size = croppedSize(r, codedWidth, codedHeight, cropX, cropY);
  return {
    vpsId, spsId, maxSubLayers: maxSubLayersMinus1 + 1, temporalIdNesting, profileTierLevel,
    chromaFormatIdc, bitDepthLuma, bitDepthChroma, ...size,
  };
}

/** profile_tier_level(1, maxNumSubLayersMinus1): the general part kept, the sub-layers' skipped. */
function readProfileTierLevel(r: BitReader, maxSubLayersMinus1: number): H265ProfileTierLevel {
  const profileSpace = r.u(2, 'general_profile_space');
  const tierFlag = r.u1('general_tier_flag');
  const profileIdc = r.u(5, 'general_profile_idc');
  const compatibilityFlags = r.u(32, 'general_profile_compatibility_flags');
  const constraintFlags = new Uint8Array(6);
  for (let i = 0; i < 6; i++) constraintFlags[i] = r.u(8, 'general constraint flags');
  const levelIdc = r.u(8, 'general_level_idc');
  const profilePresent: boolean[] = [];
  const levelPresent: boolean[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    profilePresent.push(r.u1('sub_layer_profile_present_flag') === 1);
    levelPresent.push(r.u1('sub_layer_level_present_flag') === 1);
  }
  if (maxSubLayersMinus1 > 0) r.skip(2 * (8 - maxSubLayersMinus1), 'reserved_zero_2bits');
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (profilePresent[i]) r.skip(88, 'sub_layer profile');
    if (levelPresent[i]) r.skip(8, 'sub_layer_level_idc');
  }
  return { profileSpace, tierFlag, profileIdc, compatibilityFlags, constraintFlags, levelIdc };
}

// ---------------------------------------------------------------------------------------------
// Parameter set identity

export function parseSps(codec: VideoCodec, nal: Uint8Array): H264Sps | H265Sps {
  return codec === 'h264' ? parseH264Sps(nal) : codec === 'h265' ? parseH265Sps(nal) : unknownCodec(codec);
}

/**
 * The id a parameter set is known by (a later one with the same id replaces it): H.264 SPS 0..31 and
 * PPS 0..255; H.265 VPS 0..15, SPS 0..15, PPS 0..63.
 */
export function parameterSetId(codec: VideoCodec, nal: Uint8Array): number {
  const kind = parameterSetKind(codec, nalType(codec, nal));
  if (kind === undefined) throw new H26xError('bad-parameter-set', `${codec} NAL type ${nalType(codec, nal)} is not a parameter set`);
  if (kind === 'sps') return parseSps(codec, nal).spsId;
  if (kind === 'vps') {
    if (nal.length < 3) throw new H26xError('bad-parameter-set', 'H.265 VPS: truncated at vps_video_parameter_set_id');
    return nal[2]! >> 4;
  }
  // The id is the PPS's first field: no need to unescape more than its first bytes.
  const header = codec === 'h264' ? 1 : 2;
  const r = new BitReader(unescapeRbsp(nal.subarray(0, header + 8), header), 'bad-parameter-set', `${codec} PPS`);
  return r.ue('pic_parameter_set_id', codec === 'h264' ? 255 : 63);
}

// ---------------------------------------------------------------------------------------------
// Decoder configuration records (ISO/IEC 14496-15 5.3.3.1 and 8.3.3.1). lengthSizeMinusOne is 3:
// every sample NAL gets a 4-byte length.

/** AVCDecoderConfigurationRecord, the payload of an avcC box. Profile and level from spsList[0]. */
export function avcC(spsList: readonly Uint8Array[], ppsList: readonly Uint8Array[]): Uint8Array {
  const first = spsList[0];
  if (first === undefined || ppsList.length === 0) {
    throw new H26xError('missing-parameter-sets', `avcC needs an SPS and a PPS (got ${spsList.length} and ${ppsList.length})`);
  }
  checkSets('h264', spsList, H264_NAL.sps, 31, 'SPS');
  checkSets('h264', ppsList, H264_NAL.pps, 255, 'PPS');
  const sps = parseH264Sps(first);
  // The record's later versions carry the chroma format and bit depths for every profile beyond
  // Baseline, Main and Extended (what ffmpeg and decoders expect).
  const ext = sps.profileIdc !== 66 && sps.profileIdc !== 77 && sps.profileIdc !== 88;
  const w = new ByteList();
  w.u8(1);
  w.u8(sps.profileIdc);
  w.u8(sps.constraintFlags);
  w.u8(sps.levelIdc);
  w.u8(0xfc | 3);
  w.u8(0xe0 | spsList.length);
  for (const nal of spsList) w.u16(nal.length).bytes(nal);
  w.u8(ppsList.length);
  for (const nal of ppsList) w.u16(nal.length).bytes(nal);
  if (ext) {
    w.u8(0xfc | sps.chromaFormatIdc);
    w.u8(0xf8 | (sps.bitDepthLuma - 8));
    w.u8(0xf8 | (sps.bitDepthChroma - 8));
    w.u8(0);
  }
  return w.finish();
}

/** HEVCDecoderConfigurationRecord, the payload of an hvcC box. The general fields from spsList[0]. */
export function hvcC(vpsList: readonly Uint8Array[], spsList: readonly Uint8Array[], ppsList: readonly Uint8Array[]): Uint8Array {
  const first = spsList[0];
  if (first === undefined || vpsList.length === 0 || ppsList.length === 0) {
    throw new H26xError('missing-parameter-sets', `hvcC needs a VPS, an SPS and a PPS (got ${vpsList.length}, ${spsList.length} and ${ppsList.length})`);
  }
  checkSets('h265', vpsList, H265_NAL.vps, 0xffff, 'VPS');
  checkSets('h265', spsList, H265_NAL.sps, 0xffff, 'SPS');
  checkSets('h265', ppsList, H265_NAL.pps, 0xffff, 'PPS');
  const sps = parseH265Sps(first);
  const ptl = sps.profileTierLevel;
  const w = new ByteList();
  w.u8(1);
  w.u8((ptl.profileSpace << 6) | (ptl.tierFlag << 5) | ptl.profileIdc);
  w.u32(ptl.compatibilityFlags);
  w.bytes(ptl.constraintFlags);
  w.u8(ptl.levelIdc);
  // min_spatial_segmentation_idc 0 and parallelismType 0 mean "unknown", always allowed: reading
  // them would take the VUI and the PPS tiles/WPP flags for a hint no player needs.
  w.u16(0xf000);
  w.u8(0xfc);
  w.u8(0xfc | sps.chromaFormatIdc);
  w.u8(0xf8 | (sps.bitDepthLuma - 8));
  w.u8(0xf8 | (sps.bitDepthChroma - 8));
  w.u16(0); // avgFrameRate: unspecified
  w.u8((sps.maxSubLayers << 3) | (sps.temporalIdNesting ? 4 : 0) | 3);
  w.u8(3);
  for (const [type, list] of [[H265_NAL.vps, vpsList], [H265_NAL.sps, spsList], [H265_NAL.pps, ppsList]] as const) {
    // array_completeness 1: every parameter set of the type is here, as 'hvc1' requires.
    w.u8(0x80 | type);
    w.u16(list.length);
    for (const nal of list) w.u16(nal.length).bytes(nal);
  }
  return w.finish();
}

function checkSets(codec: VideoCodec, list: readonly Uint8Array[], type: number, maxCount: number, what: string): void {
  if (list.length > maxCount) throw new H26xError('unsupported', `${list.length} ${what}s, a configuration record holds ${maxCount}`);
  for (const nal of list) {
    const t = nalType(codec, nal);
    if (t !== type) throw new H26xError('bad-parameter-set', `${codec} NAL type ${t} given as ${what}`);
    if (nal.length > MAX_PARAMETER_SET_BYTES) {
      throw new H26xError('bad-parameter-set', `${what} of ${nal.length} bytes, a configuration record holds ${MAX_PARAMETER_SET_BYTES}`);
    }
  }
}

/** A growable byte list for the configuration records (written once per init segment, not per frame). */
class ByteList {
  private parts: number[] = [];
  private chunks: Uint8Array[] = [];
  private length = 0;

  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.u8(v >>> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }
  bytes(b: Uint8Array): this {
    this.flush();
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
  private flush(): void {
    if (this.parts.length === 0) return;
    this.chunks.push(Uint8Array.from(this.parts));
    this.length += this.parts.length;
    this.parts = [];
  }
}

function unknownCodec(codec: never): never {
  throw new H26xError('unsupported', `unknown codec ${JSON.stringify(codec)}`);
}

function hex2(n: number): string {
  return n.toString(16).toUpperCase().padStart(2, '0');
}
