#!/usr/bin/env python3
"""PyTorch reference builds of nnU-Net's networks, saved as nnU-Net saves them (test-time only).

Written for the import tests from the published definitions of dynamic-network-architectures
(PlainConvUNet, ResidualEncoderUNet with BasicBlockD) and of nnU-Net v1 (Generic_UNet as
nnUNetTrainerV2 and the MultiTalent trainers build it). Module attribute names follow those
definitions, so `state_dict()` has exactly nnU-Net's keys, including its aliases (v2's
`all_modules.N` copies of each conv unit and the decoder's `encoder` reference).

  nnunet_reference.py v2 --arch plain|resenc --out DIR [--legacy] [--regions] [--seed N]
  nnunet_reference.py v1 --out DIR [--legacy] [--trainer NAME] [--classes N]

Writes the trained-model folder nnU-Net would (v2: plans.json, dataset.json,
fold_0/checkpoint_final.pth; v1: plans.pkl, fold_0/model_final_checkpoint.model and .model.pkl)
and DIR/reference/: input.bin (float32, [z, y, x] C order), outputs.bin (every output of the
network in eval mode, full resolution first, each [C, z, y, x] float32) and meta.json (the model
folder, shapes, parameter count).
"""
import argparse
import json
import os
import pickle
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn


def pads(kernel):
    return [(k - 1) // 2 for k in kernel]


# ---------------------------------------------------------------- nnU-Net v2 (dynamic-network-architectures)

class ConvNormAct(nn.Module):
    """conv (padding (k-1)/2 each side) -> InstanceNorm -> LeakyReLU; `all_modules` holds the same modules."""

    def __init__(self, cin, cout, kernel, stride, bias, act=True):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, kernel, stride, padding=pads(kernel), bias=bias)
        self.norm = nn.InstanceNorm3d(cout, eps=1e-5, affine=True)
        ops = [self.conv, self.norm]
        if act:
            self.nonlin = nn.LeakyReLU(inplace=True)
            ops.append(self.nonlin)
        self.all_modules = nn.Sequential(*ops)

    def forward(self, x):
        return self.all_modules(x)


class ConvStack(nn.Module):
    def __init__(self, n, cin, cout, kernel, stride, bias):
        super().__init__()
        self.convs = nn.Sequential(*[ConvNormAct(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, bias) for i in range(n)])

    def forward(self, x):
        return self.convs(x)


class PlainEncoder(nn.Module):
    def __init__(self, features, kernels, strides, n_conv, bias):
        super().__init__()
        stages, cin = [], 1
        for s, f in enumerate(features):
            stages.append(nn.Sequential(ConvStack(n_conv[s], cin, f, kernels[s], strides[s], bias)))
            cin = f
        self.stages = nn.Sequential(*stages)
        self.output_channels, self.strides, self.kernel_sizes, self.conv_bias = features, strides, kernels, bias

    def forward(self, x):
        skips = []
        for s in self.stages:
            x = s(x)
            skips.append(x)
        return skips


class BasicBlockD(nn.Module):
    def __init__(self, cin, cout, kernel, stride, bias):
        super().__init__()
        self.conv1 = ConvNormAct(cin, cout, kernel, stride, bias)
        self.conv2 = ConvNormAct(cout, cout, kernel, 1, bias, act=False)
        self.nonlin2 = nn.LeakyReLU(inplace=True)
        strided = any(s != 1 for s in stride)
        if strided or cin != cout:
            ops = []
            if strided:
                ops.append(nn.AvgPool3d(stride, stride))
            if cin != cout:
                ops.append(ConvNormAct(cin, cout, [1, 1, 1], 1, False, act=False))
            self.skip = nn.Sequential(*ops)
        else:
            self.skip = lambda x: x

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        out += self.skip(x)
        return self.nonlin2(out)


class ResidualStack(nn.Module):
    def __init__(self, n, cin, cout, kernel, stride, bias):
        super().__init__()
        self.blocks = nn.Sequential(*[BasicBlockD(cin if i == 0 else cout, cout, kernel, stride if i == 0 else [1, 1, 1], bias) for i in range(n)])

    def forward(self, x):
        return self.blocks(x)


class ResidualEncoder(nn.Module):
    def __init__(self, features, kernels, strides, n_blocks, bias):
        super().__init__()
        self.stem = ConvStack(1, 1, features[0], kernels[0], [1, 1, 1], bias)
        stages, cin = [], features[0]
        for s, f in enumerate(features):
            stages.append(ResidualStack(n_blocks[s], cin, f, kernels[s], strides[s], bias))
            cin = f
        self.stages = nn.Sequential(*stages)
        self.output_channels, self.strides, self.kernel_sizes, self.conv_bias = features, strides, kernels, bias

    def forward(self, x):
        x = self.stem(x)
        skips = []
        for s in self.stages:
            x = s(x)
            skips.append(x)
        return skips


class UNetDecoder(nn.Module):
    def __init__(self, encoder, num_classes, n_conv):
        super().__init__()
        self.encoder = encoder  # a reference: its weights appear again under decoder.encoder.*
        ch, n = encoder.output_channels, len(encoder.output_channels)
        stages, ups, segs = [], [], []
        for s in range(1, n):
            below, skip = ch[-s], ch[-(s + 1)]
            stride = encoder.strides[-s]
            ups.append(nn.ConvTranspose3d(below, skip, stride, stride, bias=encoder.conv_bias))
            stages.append(ConvStack(n_conv[s - 1], 2 * skip, skip, encoder.kernel_sizes[-(s + 1)], [1, 1, 1], encoder.conv_bias))
            segs.append(nn.Conv3d(skip, num_classes, 1, 1, 0, bias=True))
        self.stages = nn.ModuleList(stages)
        self.transpconvs = nn.ModuleList(ups)
        self.seg_layers = nn.ModuleList(segs)

    def forward(self, skips):
        x, outs = skips[-1], []
        for s in range(len(self.stages)):
            x = self.stages[s](torch.cat((self.transpconvs[s](x), skips[-(s + 2)]), 1))
            outs.append(self.seg_layers[s](x))
        return outs[::-1]


class NnUNetV2(nn.Module):
    def __init__(self, encoder, num_classes, n_conv_decoder):
        super().__init__()
        self.encoder = encoder
        self.decoder = UNetDecoder(encoder, num_classes, n_conv_decoder)

    def forward(self, x):
        return self.decoder(self.encoder(x))


# ---------------------------------------------------------------- nnU-Net v1 (Generic_UNet)

class ConvDropoutNormNonlin(nn.Module):
    def __init__(self, cin, cout, kernel, stride):
        super().__init__()
        self.conv = nn.Conv3d(cin, cout, kernel, stride, padding=[1 if k == 3 else 0 for k in kernel], bias=True)
        self.dropout = None
        self.instnorm = nn.InstanceNorm3d(cout, eps=1e-5, affine=True, momentum=0.1)
        self.lrelu = nn.LeakyReLU(negative_slope=1e-2, inplace=True)

    def forward(self, x):
        return self.lrelu(self.instnorm(self.conv(x)))


class StackedConvLayers(nn.Module):
    def __init__(self, cin, cout, n, kernel, first_stride=None):
        super().__init__()
        self.output_channels = cout
        self.blocks = nn.Sequential(*[ConvDropoutNormNonlin(cin if i == 0 else cout, cout, kernel, (first_stride or [1, 1, 1]) if i == 0 else [1, 1, 1]) for i in range(n)])

    def forward(self, x):
        return self.blocks(x)


class GenericUNet(nn.Module):
    """Generic_UNet as nnUNetTrainerV2 builds it: convolutional pooling and upsampling, deep supervision, no seg bias."""

    def __init__(self, base, num_classes, pools, kernels, conv_per_stage=2, max_features=320):
        super().__init__()
        num_pool = len(pools)
        self.conv_blocks_context, self.conv_blocks_localization, self.tu, self.seg_outputs = [], [], [], []
        fin, fout = 1, base
        for d in range(num_pool):
            self.conv_blocks_context.append(StackedConvLayers(fin, fout, conv_per_stage, kernels[d], pools[d - 1] if d != 0 else None))
            fin, fout = fout, min(int(round(fout * 2)), max_features)
        final = fout
        self.conv_blocks_context.append(nn.Sequential(
            StackedConvLayers(fin, fout, conv_per_stage - 1, kernels[num_pool], pools[-1]),
            StackedConvLayers(fout, final, 1, kernels[num_pool])))
        for u in range(num_pool):
            skip = self.conv_blocks_context[-(2 + u)].output_channels
            self.tu.append(nn.ConvTranspose3d(final, skip, pools[-(u + 1)], pools[-(u + 1)], bias=False))
            self.conv_blocks_localization.append(nn.Sequential(
                StackedConvLayers(2 * skip, skip, conv_per_stage - 1, kernels[-(u + 1)]),
                StackedConvLayers(skip, skip, 1, kernels[-(u + 1)])))
            final = skip
        for ds in range(num_pool):
            self.seg_outputs.append(nn.Conv3d(self.conv_blocks_localization[ds][-1].output_channels, num_classes, 1, 1, 0, 1, 1, False))
        self.conv_blocks_localization = nn.ModuleList(self.conv_blocks_localization)
        self.conv_blocks_context = nn.ModuleList(self.conv_blocks_context)
        self.td = nn.ModuleList([])
        self.tu = nn.ModuleList(self.tu)
        self.seg_outputs = nn.ModuleList(self.seg_outputs)

    def forward(self, x):
        skips, outs = [], []
        for d in range(len(self.conv_blocks_context) - 1):
            x = self.conv_blocks_context[d](x)
            skips.append(x)
        x = self.conv_blocks_context[-1](x)
        for u in range(len(self.tu)):
            x = self.conv_blocks_localization[u](torch.cat((self.tu[u](x), skips[-(u + 1)]), 1))
            outs.append(self.seg_outputs[u](x))
        return outs[::-1]


# ---------------------------------------------------------------- helpers

def randomise(net, seed):
    """Random weights everywhere (norm scales and offsets too), so that every tensor matters in the comparison."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith('norm.weight') or name.endswith('instnorm.weight'):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[1] * int(np.prod(p.shape[2:]))
                p.copy_(torch.randn(p.shape, generator=g) * (2.0 / max(1, fan_in)) ** 0.5)


def save(obj, path, legacy):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)


def write_reference(out, net, patch, model_dir, seed, extra):
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn((1, 1, *patch), generator=g)
    net.eval()
    with torch.no_grad():
        outs = net(x)
    ref = os.path.join(out, 'reference')
    os.makedirs(ref, exist_ok=True)
    x[0, 0].numpy().astype('<f4').tofile(os.path.join(ref, 'input.bin'))
    with open(os.path.join(ref, 'outputs.bin'), 'wb') as f:
        for o in outs:
            f.write(o[0].numpy().astype('<f4').tobytes())
    meta = {
        'modelDir': model_dir,
        'patch': list(patch),
        'outputShapes': [list(o.shape[1:]) for o in outs],
        'parameters': sum(p.numel() for p in net.parameters()),
        'stateDictKeys': len(net.state_dict()),
        **extra,
    }
    with open(os.path.join(ref, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)


def write_ct(out, net, patch, spacing, props, activation, seed):
    """A CT one tile in size at the plans' spacing (RAS, NIfTI) and what nnU-Net's inference makes of it
    without mirroring: CT normalisation with the plans' statistics, the network on the one tile, then the
    softmax's argmax (segmentation.bin, uint8 [z, y, x]) or each sigmoid above 0.5 (masks.bin, uint8 [C, z, y, x])."""
    import nibabel as nib
    g = torch.Generator().manual_seed(seed + 7)
    z, y, x = patch
    # blobs of soft tissue and air over noise; no voxel is 0, so cropping to nonzero keeps the whole image
    coarse = torch.rand((1, 1, max(1, z // 4), max(1, y // 4), max(1, x // 4)), generator=g)
    smooth = torch.nn.functional.interpolate(coarse, size=(z, y, x), mode='trilinear', align_corners=False)[0, 0]
    vol = (smooth * 1300 - 850 + 40 * torch.randn((z, y, x), generator=g)).round()
    vol[vol == 0] = 1
    ref = os.path.join(out, 'reference')
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    nib.save(nib.Nifti1Image(vol.numpy().transpose(2, 1, 0).astype(np.int16), affine), os.path.join(ref, 'ct.nii.gz'))
    xn = (vol.clamp(props['percentile_00_5'], props['percentile_99_5']) - props['mean']) / max(props['std'], 1e-8)
    net.eval()
    with torch.no_grad():
        logits = net(xn[None, None].float())[0][0]
    if activation == 'softmax':
        torch.softmax(logits, 0).argmax(0).numpy().astype(np.uint8).tofile(os.path.join(ref, 'segmentation.bin'))
    else:
        (torch.sigmoid(logits) > 0.5).numpy().astype(np.uint8).tofile(os.path.join(ref, 'masks.bin'))


def intensity_properties():
    return {'max': 3071.0, 'mean': 63.44, 'median': 96.0, 'min': -1024.0, 'percentile_00_5': -927.0, 'percentile_99_5': 275.0, 'std': 175.48}


# ---------------------------------------------------------------- v2

def v2(a):
    features = [8, 16, 32, 32]
    if a.arch == 'plain':
        kernels = [[1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]]
        strides = [[1, 1, 1], [1, 2, 2], [2, 2, 2], [2, 2, 2]]
        patch = [16, 32, 32]
        n_conv, n_dec = [2, 2, 2, 2], [2, 2, 2]
        encoder = PlainEncoder(features, kernels, strides, n_conv, True)
        cls = 'dynamic_network_architectures.architectures.unet.PlainConvUNet'
        kw_blocks = {'n_conv_per_stage': n_conv}
    else:
        kernels = [[3, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]]
        strides = [[1, 1, 1], [2, 2, 2], [2, 2, 2], [1, 2, 2]]
        patch = [16, 32, 32]
        n_blocks, n_dec = [1, 2, 2, 2], [1, 1, 1]
        encoder = ResidualEncoder(features, kernels, strides, n_blocks, True)
        cls = 'dynamic_network_architectures.architectures.unet.ResidualEncoderUNet'
        kw_blocks = {'n_blocks_per_stage': n_blocks}
    if a.regions:
        labels = {'background': 0, 'liver': [1, 2], 'tumour': 2}
        dataset_json = {'channel_names': {'0': 'CT'}, 'labels': labels, 'regions_class_order': [1, 2], 'numTraining': 10, 'file_ending': '.nii.gz', 'name': 'Liver'}
        num_classes = 2
    else:
        labels = {'background': 0, 'spleen': 1, 'kidney_right': 2}
        dataset_json = {'channel_names': {'0': 'CT'}, 'labels': labels, 'numTraining': 10, 'file_ending': '.nii.gz', 'name': 'Organs'}
        num_classes = 3
    net = NnUNetV2(encoder, num_classes, n_dec)
    randomise(net, a.seed)
    arch_kwargs = {
        'n_stages': len(features), 'features_per_stage': features, 'conv_op': 'torch.nn.modules.conv.Conv3d',
        'kernel_sizes': kernels, 'strides': strides, **kw_blocks, 'n_conv_per_stage_decoder': n_dec,
        'conv_bias': True, 'norm_op': 'torch.nn.modules.instancenorm.InstanceNorm3d', 'norm_op_kwargs': {'eps': 1e-05, 'affine': True},
        'dropout_op': None, 'dropout_op_kwargs': None, 'nonlin': 'torch.nn.LeakyReLU', 'nonlin_kwargs': {'inplace': True},
    }
    dataset = 'Dataset042_Liver' if a.regions else 'Dataset017_Organs'
    plans = {
        'dataset_name': dataset, 'plans_name': 'nnUNetPlans',
        'original_median_spacing_after_transp': [2.5, 0.8, 0.8], 'original_median_shape_after_transp': [100, 256, 256],
        'image_reader_writer': 'SimpleITKIO', 'transpose_forward': [0, 1, 2], 'transpose_backward': [0, 1, 2],
        'configurations': {
            '3d_fullres': {
                'data_identifier': 'nnUNetPlans_3d_fullres', 'preprocessor_name': 'DefaultPreprocessor', 'batch_size': 2,
                'patch_size': patch, 'median_image_size_in_voxels': [100, 256, 256], 'spacing': [float(v) for v in a.spacing.split(',')],
                'normalization_schemes': ['CTNormalization'], 'use_mask_for_norm': [False],
                'resampling_fn_data': 'resample_data_or_seg_to_shape', 'resampling_fn_seg': 'resample_data_or_seg_to_shape',
                'resampling_fn_data_kwargs': {'is_seg': False, 'order': 3, 'order_z': 0, 'force_separate_z': None},
                'resampling_fn_seg_kwargs': {'is_seg': True, 'order': 1, 'order_z': 0, 'force_separate_z': None},
                'resampling_fn_probabilities': 'resample_data_or_seg_to_shape',
                'resampling_fn_probabilities_kwargs': {'is_seg': False, 'order': 1, 'order_z': 0, 'force_separate_z': None},
                'architecture': {'network_class_name': cls, 'arch_kwargs': arch_kwargs, '_kw_requires_import': ['conv_op', 'norm_op', 'dropout_op', 'nonlin']},
                'batch_dice': False,
            },
        },
        'experiment_planner_used': 'ExperimentPlanner', 'label_manager': 'LabelManager',
        'foreground_intensity_properties_per_channel': {'0': intensity_properties()},
    }
    model_dir = os.path.join(a.out, dataset, 'nnUNetTrainer__nnUNetPlans__3d_fullres')
    os.makedirs(model_dir, exist_ok=True)
    with open(os.path.join(model_dir, 'plans.json'), 'w') as f:
        json.dump(plans, f, indent=4)
    with open(os.path.join(model_dir, 'dataset.json'), 'w') as f:
        json.dump(dataset_json, f, indent=4)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99, nesterov=True)
    checkpoint = {
        'network_weights': net.state_dict(),
        'optimizer_state': opt.state_dict(),
        'grad_scaler_state': None,
        'logging': {'mean_fg_dice': [np.float64(0.5), np.float64(0.6)], 'ema_fg_dice': [0.5, 0.51], 'dice_per_class_or_region': [[0.4, 0.6]],
                    'train_losses': [-0.1], 'val_losses': [-0.2], 'lrs': [0.01], 'epoch_start_timestamps': [1.0], 'epoch_end_timestamps': [2.0]},
        '_best_ema': np.float64(0.51),
        'current_epoch': 1000,
        'init_args': {'plans': plans, 'configuration': '3d_fullres', 'fold': 0, 'dataset_json': dataset_json, 'unpack_dataset': True, 'device': torch.device('cuda')},
        'trainer_name': 'nnUNetTrainer',
        'inference_allowed_mirroring_axes': (0, 1, 2),
    }
    save(checkpoint, os.path.join(model_dir, 'fold_0', 'checkpoint_final.pth'), a.legacy)
    write_reference(a.out, net, patch, model_dir, a.seed, {'numClasses': num_classes})
    if a.ct:
        write_ct(a.out, net, patch, plans['configurations']['3d_fullres']['spacing'], intensity_properties(), 'sigmoid' if a.regions else 'softmax', a.seed)


# ---------------------------------------------------------------- v1

def v1(a):
    pools = [[1, 2, 2], [2, 2, 2], [2, 2, 2]]
    kernels = [[1, 3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]]
    patch = [16, 32, 32]
    base = 4
    num_classes = a.classes
    net = GenericUNet(base, num_classes, pools, kernels)
    randomise(net, a.seed)
    stage = {
        'batch_size': 2, 'num_pool_per_axis': [2, 3, 3], 'patch_size': np.array(patch), 'median_patient_size_in_voxels': np.array([143, 311, 311]),
        'current_spacing': np.array([1.5, 1.0, 1.0]), 'original_spacing': np.array([1.5, 1.0, 1.0]), 'do_dummy_2D_data_aug': False,
        'pool_op_kernel_sizes': pools, 'conv_kernel_sizes': kernels,
    }
    intensity = OrderedDict([(0, OrderedDict([('median', np.float32(96.0)), ('mean', np.float32(63.436882)), ('sd', np.float32(175.48094)), ('mn', np.float32(-1570.9)), ('mx', np.float32(6739.0)), ('percentile_99_5', np.float64(275.0)), ('percentile_00_5', np.float64(-927.0))]))])
    plans = {
        'num_stages': 2, 'num_modalities': 1, 'modalities': {0: 'CT'}, 'normalization_schemes': OrderedDict([(0, 'CT')]),
        'dataset_properties': {'all_sizes': [(75, 512, 512)], 'all_spacings': [np.array([5.0, 0.7, 0.7])], 'all_classes': list(range(1, 48)), 'modalities': {0: 'CT'},
                               'intensityproperties': intensity, 'size_reductions': OrderedDict([('case_0', np.float64(1.0))])},
        'list_of_npz_files': ['/data/case_0.npz'], 'original_spacings': [np.array([5.0, 0.7, 0.7])], 'original_sizes': [(75, 512, 512)],
        'preprocessed_data_folder': '/data/Task100_MultiTalent', 'num_classes': num_classes, 'all_classes': list(range(1, num_classes + 1)),
        'base_num_features': base, 'use_mask_for_norm': OrderedDict([(0, False)]), 'keep_only_largest_region': None,
        'min_region_size_per_class': None, 'min_size_per_class': None, 'transpose_forward': [0, 1, 2], 'transpose_backward': [0, 1, 2],
        'data_identifier': 'MultiTalent_data', 'plans_per_stage': {0: dict(stage, current_spacing=np.array([2.0, 1.3, 1.3])), 1: stage},
        'preprocessor_name': 'GenericPreprocessor', 'conv_per_stage': 2,
    }
    trainer = a.trainer
    model_dir = os.path.join(a.out, 'Task100_MultiTalent', f'{trainer}__MultiTalent_bs4')
    fold = os.path.join(model_dir, 'fold_0')
    os.makedirs(fold, exist_ok=True)
    with open(os.path.join(model_dir, 'plans.pkl'), 'wb') as f:
        pickle.dump(plans, f)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.99, nesterov=True)
    state = OrderedDict((k, v) for k, v in net.state_dict().items())
    checkpoint = {
        'epoch': 2000, 'state_dict': state, 'optimizer_state_dict': opt.state_dict(), 'lr_scheduler_state_dict': None,
        'plot_stuff': ([0.1, 0.05], [0.2, 0.1], [np.float64(0.5)], [0.5]), 'best_stuff': (1999, 0.1, 0.6, 0.6),
        'amp_grad_scaler': {'scale': 65536.0, 'growth_factor': 2.0, 'backoff_factor': 0.5, 'growth_interval': 2000, '_growth_tracker': 12},
    }
    save(checkpoint, os.path.join(fold, 'model_final_checkpoint.model'), a.legacy)
    info = {
        'init': (os.path.join(model_dir, 'plans.pkl'), 0, fold, '/data/Task100_MultiTalent', True, 1, True, True, True),
        'name': trainer,
        'class': f"<class 'nnunet.training.network_training.custom_trainers.MultiTalent.{trainer}'>",
        'plans': plans,
    }
    with open(os.path.join(fold, 'model_final_checkpoint.model.pkl'), 'wb') as f:
        pickle.dump(info, f)
    write_reference(a.out, net, patch, model_dir, a.seed, {'numClasses': num_classes})
    if a.ct:
        props = intensity[0]
        write_ct(a.out, net, patch, [1.5, 1.0, 1.0], {'mean': float(props['mean']), 'std': float(props['sd']), 'percentile_00_5': float(props['percentile_00_5']), 'percentile_99_5': float(props['percentile_99_5'])}, 'sigmoid', a.seed)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('version', choices=['v1', 'v2'])
    p.add_argument('--arch', choices=['plain', 'resenc'], default='plain')
    p.add_argument('--out', required=True)
    p.add_argument('--legacy', action='store_true')
    p.add_argument('--regions', action='store_true')
    p.add_argument('--trainer', default='MultiTalent_trainer_ddp')
    p.add_argument('--classes', type=int, default=47)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--spacing', default='2.5,0.8,0.8', help='v2: the configuration spacing z,y,x')
    p.add_argument('--ct', action='store_true', help='also a CT one tile in size and its segmentation by the PyTorch network')
    a = p.parse_args()
    torch.set_num_threads(1)
    (v1 if a.version == 'v1' else v2)(a)


if __name__ == '__main__':
    main()
