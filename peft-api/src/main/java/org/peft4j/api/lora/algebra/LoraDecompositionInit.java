package org.peft4j.api.lora.algebra;

import java.util.Map;
import java.util.TreeMap;
import org.apache.commons.math3.linear.MatrixUtils;
import org.apache.commons.math3.linear.QRDecomposition;
import org.apache.commons.math3.linear.RealMatrix;
import org.apache.commons.math3.random.Well19937c;
import org.peft4j.api.checkpoint.AdapterCheckpoint;
import org.peft4j.api.internal.Excerpt;
import org.peft4j.api.lora.LoraConfig;
import org.peft4j.api.lora.LoraInit;
import org.peft4j.api.safetensors.DType;
import org.peft4j.api.safetensors.Tensor;

/**
 * The LoRA initialisations that start from the base weight, PiSSA and OLoRA, as Hugging Face PEFT
 * 0.21 computes them (peft/tuners/lora/layer.py: {@code olora_init}, lines 384-427, and
 * {@code pissa_init}, lines 429-462), and the conversion of such an adapter, once trained, into a
 * plain LoRA adapter for the original base (PEFT's {@code save_pretrained} with
 * {@code path_initial_model_for_weight_conversion}: peft/peft_model.py lines 336-345 and 400-412,
 * and {@code LoraModel.subtract_mutated_init}, peft/tuners/lora/model.py lines 953-1000).
 *
 * <p>Both replace the base weight W by W_res = W − s·B·A, so the model computes what the base
 * computed until training moves A and B. PiSSA takes the r principal singular triplets of W
 * (W = U S Vᵀ): B = U_r √(S_r / s), A = √(S_r / s) Vᵀ_r, from an exact SVD, or for
 * {@code pissa_niter_N} from {@code torch.svd_lowrank}'s randomized SVD with N subspace iterations
 * (seeded here; torch's draw is unseeded). OLoRA takes the thin QR decomposition W = Q R:
 * B = Q_r, A = R_r (its first r columns and rows), without dividing by s.
 */
public final class LoraDecompositionInit {
    private LoraDecompositionInit() {}

    /**
     * The start the config chooses for the layer at {@code path} with base weight {@code weight}
     * [out, in]: {@link LoraInit#PISSA}, {@link LoraInit#PISSA_NITER} or {@link LoraInit#OLORA}.
     *
     * @param seed seeds the randomized SVD of {@code pissa_niter_N}
     * @throws IllegalArgumentException if the config asks for another initialisation, the weight is
     *     not a 2-D floating-point matrix, or the rank exceeds its smaller side
     */
    public static DecomposedInit of(LoraConfig config, String path, Tensor weight, long seed) {
        int r = config.rankFor(path);
        double s = config.scalingFor(path);
        RealMatrix w = Matrices.toMatrix(weight, path + ".weight");
        int k = Math.min(w.getRowDimension(), w.getColumnDimension());
        if (r > k) {
            throw new IllegalArgumentException(path + ": init_lora_weights " + config.initLoraWeights() + " needs r <= "
                    + k + " (the smaller side of its weight " + w.getRowDimension() + "x" + w.getColumnDimension()
                    + "), got r=" + r);
        }
        RealMatrix a;
        RealMatrix b;
        switch (config.initLoraWeights()) {
            case PISSA:
            case PISSA_NITER:
                Factors f = config.initLoraWeights() == LoraInit.PISSA ? LinearAlgebra.exactSvd(w, r)
                        : LinearAlgebra.randomizedSvd(w, r, config.pissaNiter(), new Well19937c(seed));
                double[] root = new double[r];
                for (int i = 0; i < r; i++) {
                    root[i] = Math.sqrt(f.s()[i] / s);
                }
                RealMatrix sqrtS = MatrixUtils.createRealDiagonalMatrix(root);
                a = sqrtS.multiply(Matrices.firstRows(f.vt(), r));
                b = Matrices.firstColumns(f.u(), r).multiply(sqrtS);
                break;
            case OLORA:
                QRDecomposition qr = new QRDecomposition(w);
                a = Matrices.firstRows(qr.getR(), r);
                b = Matrices.firstColumns(qr.getQ(), r);
                break;
            default:
                throw new IllegalArgumentException(path + ": init_lora_weights " + config.initLoraWeights()
                        + " does not start from the base weight; expected PISSA, PISSA_NITER or OLORA");
        }
        RealMatrix residual = w.subtract(b.multiply(a).scalarMultiply(s));
        DType dtype = weight.dtype() == DType.F64 ? DType.F64 : DType.F32;
        return new DecomposedInit(Matrices.toTensor(a, dtype), Matrices.toTensor(b, dtype),
                Matrices.toTensor(residual, weight.dtype()));
    }

    /**
     * Converts a trained PiSSA or OLoRA adapter into a LoRA adapter for the original base W: since
     * W_res = W − s·B₀A₀, the trained model W_res + s·B·A equals W + s·(B·A − B₀A₀), which is the
     * rank-2r LoRA A'' = [A; A₀], B'' = [B, −B₀] at the same scaling (r and lora_alpha doubled, or
     * alpha times √2 with rsLoRA; rank and alpha patterns likewise), with {@code init_lora_weights}
     * back to {@code true}. Tensors that are not LoRA matrices (a head in {@code modules_to_save})
     * are kept from {@code trained}, where PEFT drops them.
     *
     * @param trained the adapter after training
     * @param initial the same adapter as it was initialised, before any training
     * @throws IllegalArgumentException if the two do not hold the same modules with the same shapes
     */
    public static AdapterCheckpoint convertToLora(AdapterCheckpoint trained, AdapterCheckpoint initial) {
        LoraModules now = LoraModules.of("trained adapter", trained);
        LoraModules start = LoraModules.of("initial adapter", initial);
        if (!now.pairs().keySet().equals(start.pairs().keySet())) {
            throw new IllegalArgumentException("the trained adapter's modules " + now.pairs().keySet()
                    + " differ from the initial adapter's " + start.pairs().keySet());
        }
        Map<String, Tensor> out = new TreeMap<>(now.others());
        now.pairs().forEach((path, pair) -> {
            LoraModules.Pair zero = start.pairs().get(path);
            RealMatrix a = Matrices.toMatrix(pair.a(), LoraModules.aKey(path));
            RealMatrix b = Matrices.toMatrix(pair.b(), LoraModules.bKey(path));
            RealMatrix a0 = Matrices.toMatrix(zero.a(), LoraModules.aKey(path));
            RealMatrix b0 = Matrices.toMatrix(zero.b(), LoraModules.bKey(path));
            if (a.getRowDimension() != a0.getRowDimension() || a.getColumnDimension() != a0.getColumnDimension()
                    || b.getRowDimension() != b0.getRowDimension()) {
                throw new IllegalArgumentException("module " + Excerpt.quote(path) + ": the trained and the initial"
                        + " adapter's matrices differ in shape");
            }
            RealMatrix a2 = MatrixUtils.createRealMatrix(2 * a.getRowDimension(), a.getColumnDimension());
            a2.setSubMatrix(a.getData(), 0, 0);
            a2.setSubMatrix(a0.getData(), a.getRowDimension(), 0);
            RealMatrix b2 = MatrixUtils.createRealMatrix(b.getRowDimension(), 2 * b.getColumnDimension());
            b2.setSubMatrix(b.getData(), 0, 0);
            b2.setSubMatrix(b0.scalarMultiply(-1).getData(), 0, b.getColumnDimension());
            out.put(LoraModules.aKey(path), Matrices.toTensor(a2, pair.a().dtype()));
            out.put(LoraModules.bKey(path), Matrices.toTensor(b2, pair.b().dtype()));
        });
        LoraConfig c = now.config();
        float alphaFactor = c.useRslora() ? (float) Math.sqrt(2) : 2;
        LoraConfig.Builder converted = c.toBuilder().optR(2 * c.r()).optLoraAlpha(alphaFactor * c.loraAlpha())
                .optInitLoraWeights(LoraInit.KAIMING_UNIFORM);
        c.rankPattern().forEach((k, v) -> converted.optRankPattern(k, 2 * v));
        c.alphaPattern().forEach((k, v) -> converted.optAlphaPattern(k, alphaFactor * v));
        return new AdapterCheckpoint(converted.build(), out, trained.metadata());
    }
}
