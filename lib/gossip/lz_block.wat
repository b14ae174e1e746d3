;; The LZ4 block codec of lib/gossip/lz.ts in WebAssembly. compress: the same greedy matches, the
;; same hash and end conditions, so the same bytes as lzCompressJs; decompress: the same checks as
;; lzDecompressJs, so the same bytes or the same refusal (tests/gossip/lz_test.ts compares both).
;; Assembled into lib/gossip/lz_block_wasm.ts by scripts/lz_wasm.ts.
;;
;; Memory: the compressor's hash table (4 096 i32 positions) at 0, the input at 16 384, the output
;; right after the input. The caller copies the input in, grows the memory so that the output fits
;; (compress: n + ceil(n / 255) + 16 bytes; decompress: max), calls compress(n) or
;; decompress(n, max) and reads the result's length bytes from 16 384 + n.
(module
  (memory (export "memory") 1)

  ;; writes an LZ4 length continuation (255s, then the rest) at op; returns the next op
  (func $length (param $op i32) (param $n i32) (result i32)
    (block $done
      (loop $more
        (br_if $done (i32.lt_u (local.get $n) (i32.const 255)))
        (i32.store8 (local.get $op) (i32.const 255))
        (local.set $op (i32.add (local.get $op) (i32.const 1)))
        (local.set $n (i32.sub (local.get $n) (i32.const 255)))
        (br $more)))
    (i32.store8 (local.get $op) (local.get $n))
    (i32.add (local.get $op) (i32.const 1)))

  (func $min15 (param $v i32) (result i32)
    (select (local.get $v) (i32.const 15) (i32.lt_u (local.get $v) (i32.const 15))))

  (func (export "compress") (param $n i32) (result i32)
    (local $src i32) (local $out i32) (local $op i32) (local $anchor i32) (local $ip i32)
    (local $limit i32) (local $word i32) (local $slot i32) (local $ref i32) (local $len i32)
    (local $maxLen i32) (local $literals i32) (local $token i32) (local $offset i32)
    (local.set $src (i32.const 16384))
    (local.set $out (i32.add (i32.const 16384) (local.get $n)))
    (local.set $op (local.get $out))
    ;; every slot -1: no position seen
    (memory.fill (i32.const 0) (i32.const 255) (i32.const 16384))
    (local.set $limit (i32.sub (local.get $n) (i32.const 12)))
    (block $end
      (loop $scan
        (br_if $end (i32.ge_s (local.get $ip) (local.get $limit)))
        (local.set $word (i32.load (i32.add (local.get $src) (local.get $ip))))
        ;; Math.imul(word, 2654435761) >>> (32 - 12), times 4 bytes a slot
        (local.set $slot
          (i32.shl
            (i32.shr_u (i32.mul (local.get $word) (i32.const -1640531535)) (i32.const 20))
            (i32.const 2)))
        (local.set $ref (i32.load (local.get $slot)))
        (i32.store (local.get $slot) (local.get $ip))
        (if
          (i32.or
            (i32.or
              (i32.lt_s (local.get $ref) (i32.const 0))
              (i32.gt_s (i32.sub (local.get $ip) (local.get $ref)) (i32.const 65535)))
            (i32.ne (i32.load (i32.add (local.get $src) (local.get $ref))) (local.get $word)))
          (then
            (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
            (br $scan)))
        ;; a match: extend it four bytes a compare, then byte by byte
        (local.set $len (i32.const 4))
        (local.set $maxLen (i32.sub (i32.sub (local.get $n) (i32.const 5)) (local.get $ip)))
        (block $words
          (loop $word4
            (br_if $words (i32.gt_s (i32.add (local.get $len) (i32.const 4)) (local.get $maxLen)))
            (br_if $words
              (i32.ne
                (i32.load (i32.add (local.get $src) (i32.add (local.get $ref) (local.get $len))))
                (i32.load (i32.add (local.get $src) (i32.add (local.get $ip) (local.get $len))))))
            (local.set $len (i32.add (local.get $len) (i32.const 4)))
            (br $word4)))
        (block $bytes
          (loop $byte
            (br_if $bytes (i32.ge_s (local.get $len) (local.get $maxLen)))
            (br_if $bytes
              (i32.ne
                (i32.load8_u (i32.add (local.get $src) (i32.add (local.get $ref) (local.get $len))))
                (i32.load8_u (i32.add (local.get $src) (i32.add (local.get $ip) (local.get $len))))))
            (local.set $len (i32.add (local.get $len) (i32.const 1)))
            (br $byte)))
        ;; the sequence: token, literal length, literals, offset, match length
        (local.set $literals (i32.sub (local.get $ip) (local.get $anchor)))
        (local.set $token (local.get $op))
        (local.set $op (i32.add (local.get $op) (i32.const 1)))
        (i32.store8 (local.get $token)
          (i32.or
            (i32.shl (call $min15 (local.get $literals)) (i32.const 4))
            (call $min15 (i32.sub (local.get $len) (i32.const 4)))))
        (if (i32.ge_u (local.get $literals) (i32.const 15))
          (then
            (local.set $op
              (call $length (local.get $op) (i32.sub (local.get $literals) (i32.const 15))))))
        (memory.copy (local.get $op) (i32.add (local.get $src) (local.get $anchor)) (local.get $literals))
        (local.set $op (i32.add (local.get $op) (local.get $literals)))
        (local.set $offset (i32.sub (local.get $ip) (local.get $ref)))
        (i32.store8 (local.get $op) (i32.and (local.get $offset) (i32.const 255)))
        (i32.store8 (i32.add (local.get $op) (i32.const 1)) (i32.shr_u (local.get $offset) (i32.const 8)))
        (local.set $op (i32.add (local.get $op) (i32.const 2)))
        (if (i32.ge_u (i32.sub (local.get $len) (i32.const 4)) (i32.const 15))
          (then
            (local.set $op
              (call $length (local.get $op) (i32.sub (local.get $len) (i32.const 19))))))
        (local.set $ip (i32.add (local.get $ip) (local.get $len)))
        (local.set $anchor (local.get $ip))
        (br $scan)))
    ;; the last sequence: literals only
    (local.set $literals (i32.sub (local.get $n) (local.get $anchor)))
    (i32.store8 (local.get $op) (i32.shl (call $min15 (local.get $literals)) (i32.const 4)))
    (local.set $op (i32.add (local.get $op) (i32.const 1)))
    (if (i32.ge_u (local.get $literals) (i32.const 15))
      (then
        (local.set $op (call $length (local.get $op) (i32.sub (local.get $literals) (i32.const 15))))))
    (memory.copy (local.get $op) (i32.add (local.get $src) (local.get $anchor)) (local.get $literals))
    (i32.sub (i32.add (local.get $op) (local.get $literals)) (local.get $out)))

  ;; reads an LZ4 length continuation at ip (bytes added while they are 255) into the globals; -1
  ;; in $gLen when the input ends first
  (global $gIp (mut i32) (i32.const 0))
  (global $gLen (mut i32) (i32.const 0))
  (func $more (param $ip i32) (param $end i32) (param $len i32)
    (local $b i32)
    (loop $next
      (if (i32.ge_u (local.get $ip) (local.get $end))
        (then
          (global.set $gLen (i32.const -1))
          (return)))
      (local.set $b (i32.load8_u (local.get $ip)))
      (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
      (local.set $len (i32.add (local.get $len) (local.get $b)))
      (br_if $next (i32.eq (local.get $b) (i32.const 255))))
    (global.set $gIp (local.get $ip))
    (global.set $gLen (local.get $len)))

  ;; the block's bytes at 16 384 + n; their length, or -1 when the block is malformed (a length or
  ;; offset past its bounds, truncated) or would exceed max bytes
  (func (export "decompress") (param $n i32) (param $max i32) (result i32)
    (local $ip i32) (local $end i32) (local $out i32) (local $op i32) (local $token i32)
    (local $literals i32) (local $offset i32) (local $len i32) (local $from i32) (local $stop i32)
    (local.set $ip (i32.const 16384))
    (local.set $end (i32.add (i32.const 16384) (local.get $n)))
    (local.set $out (local.get $end))
    (block $done
      (loop $sequence
        (br_if $done (i32.ge_u (local.get $ip) (local.get $end)))
        (local.set $token (i32.load8_u (local.get $ip)))
        (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
        (local.set $literals (i32.shr_u (local.get $token) (i32.const 4)))
        (if (i32.eq (local.get $literals) (i32.const 15))
          (then
            (call $more (local.get $ip) (local.get $end) (local.get $literals))
            (if (i32.lt_s (global.get $gLen) (i32.const 0)) (then (return (i32.const -1))))
            (local.set $ip (global.get $gIp))
            (local.set $literals (global.get $gLen))))
        (if (i32.gt_u (local.get $literals) (i32.sub (local.get $end) (local.get $ip)))
          (then (return (i32.const -1))))
        (if (i32.gt_u (i32.add (local.get $op) (local.get $literals)) (local.get $max))
          (then (return (i32.const -1))))
        (memory.copy (i32.add (local.get $out) (local.get $op)) (local.get $ip) (local.get $literals))
        (local.set $ip (i32.add (local.get $ip) (local.get $literals)))
        (local.set $op (i32.add (local.get $op) (local.get $literals)))
        ;; the last sequence holds literals only
        (br_if $done (i32.eq (local.get $ip) (local.get $end)))
        (if (i32.lt_u (i32.sub (local.get $end) (local.get $ip)) (i32.const 2))
          (then (return (i32.const -1))))
        (local.set $offset
          (i32.or
            (i32.load8_u (local.get $ip))
            (i32.shl (i32.load8_u (i32.add (local.get $ip) (i32.const 1))) (i32.const 8))))
        (local.set $ip (i32.add (local.get $ip) (i32.const 2)))
        (if (i32.or (i32.eqz (local.get $offset)) (i32.gt_u (local.get $offset) (local.get $op)))
          (then (return (i32.const -1))))
        (local.set $len (i32.and (local.get $token) (i32.const 15)))
        (if (i32.eq (local.get $len) (i32.const 15))
          (then
            (call $more (local.get $ip) (local.get $end) (local.get $len))
            (if (i32.lt_s (global.get $gLen) (i32.const 0)) (then (return (i32.const -1))))
            (local.set $ip (global.get $gIp))
            (local.set $len (global.get $gLen))))
        (local.set $len (i32.add (local.get $len) (i32.const 4)))
        (if (i32.gt_u (i32.add (local.get $op) (local.get $len)) (local.get $max))
          (then (return (i32.const -1))))
        (if (i32.ge_u (local.get $offset) (local.get $len))
          (then
            (memory.copy
              (i32.add (local.get $out) (local.get $op))
              (i32.sub (i32.add (local.get $out) (local.get $op)) (local.get $offset))
              (local.get $len))
            (local.set $op (i32.add (local.get $op) (local.get $len))))
          (else
            ;; the match overlaps what it copies (offset < length repeats a run): byte by byte
            (local.set $from (i32.sub (local.get $op) (local.get $offset)))
            (local.set $stop (i32.add (local.get $op) (local.get $len)))
            (loop $byte
              (i32.store8
                (i32.add (local.get $out) (local.get $op))
                (i32.load8_u (i32.add (local.get $out) (local.get $from))))
              (local.set $op (i32.add (local.get $op) (i32.const 1)))
              (local.set $from (i32.add (local.get $from) (i32.const 1)))
              (br_if $byte (i32.lt_u (local.get $op) (local.get $stop))))))
        (br $sequence)))
    (local.get $op)))
